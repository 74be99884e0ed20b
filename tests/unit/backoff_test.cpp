#include <gtest/gtest.h>

#include "workers/job.h"

using namespace clubos;
using workers::Backoff;
using workers::RetryPolicy;

TEST(Backoff, DoublesPerAttemptWithoutJitter) {
  std::mt19937_64 rng(1);
  const RetryPolicy p{Millis(100), Millis(100'000), 0.0};
  EXPECT_EQ(Backoff(p, 1, rng), Millis(100));
  EXPECT_EQ(Backoff(p, 2, rng), Millis(200));
  EXPECT_EQ(Backoff(p, 5, rng), Millis(1600));
}

TEST(Backoff, NeverExceedsTheCap) {
  std::mt19937_64 rng(7);
  const RetryPolicy p{Millis(1000), Millis(5000), 0.5};
  for (int attempt = 1; attempt < 100; ++attempt) EXPECT_LE(Backoff(p, attempt, rng), Millis(5000));
}

TEST(Backoff, JitterStaysWithinItsBand) {
  std::mt19937_64 rng(42);
  const RetryPolicy p{Millis(1000), Millis(1'000'000), 0.25};
  bool below = false, above = false;
  for (int i = 0; i < 1000; ++i) {
    const auto d = Backoff(p, 3, rng);  // nominal 4000
    EXPECT_GE(d, Millis(3000));
    EXPECT_LE(d, Millis(5000));
    below |= d < Millis(4000);
    above |= d > Millis(4000);
  }
  EXPECT_TRUE(below && above) << "jitter must spread both ways";
}

TEST(Backoff, SameSeedSameSequence) {
  std::mt19937_64 a(99), b(99);
  const RetryPolicy p;
  for (int attempt = 1; attempt < 20; ++attempt)
    EXPECT_EQ(Backoff(p, attempt, a), Backoff(p, attempt, b));
}
