#include <gtest/gtest.h>

#include "workers/queue.h"

using namespace clubos::workers;

TEST(EnqueueValidate, AcceptsAPlainRequest) {
  EnqueueRequest r{.kind = "route_message", .args = R"({"thread_id":1})"};
  EXPECT_NO_THROW(Validate(r));
}

TEST(EnqueueValidate, RejectsWhatTheDatabaseWouldRefuse) {
  EXPECT_THROW(Validate({.kind = ""}), std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "Route Message"}), std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "x", .queue = "a:b"}), std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "x", .args = ""}), std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "x", .args = std::string(kMaxArgsBytes + 1, ' ')}),
               std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "x", .priority = -1}), std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "x", .max_attempts = 0}), std::invalid_argument);
  EXPECT_THROW(Validate({.kind = "x", .unique_key = std::string()}), std::invalid_argument);
}
