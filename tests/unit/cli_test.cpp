#include <gtest/gtest.h>

#include "app/cli.h"

using clubos::app::Flags;
using clubos::app::UsageError;

TEST(Flags, ParsesValuesBooleansAndPositionals) {
  Flags f({"queue", "--jobs", "500", "--json", "--queues=a,b"}, {"--jobs", "--queues"}, {"--json"});
  EXPECT_EQ(f.positional(), std::vector<std::string>{"queue"});
  EXPECT_EQ(f.Int("--jobs", 1, 1, 1000), 500);
  EXPECT_TRUE(f.Has("--json"));
  EXPECT_EQ(f.List("--queues", {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.Int("--missing", 7, 0, 10), 7);
}

TEST(Flags, RejectsUnknownFlagsMissingValuesAndBadNumbers) {
  EXPECT_THROW(Flags({"--nope"}, {}, {}), UsageError);
  EXPECT_THROW(Flags({"--jobs"}, {"--jobs"}, {}), UsageError);
  EXPECT_THROW(Flags({"--json=1"}, {}, {"--json"}), UsageError);
  Flags f({"--jobs", "12x", "--n", "0"}, {"--jobs", "--n"}, {});
  EXPECT_THROW(f.Int("--jobs", 1, 0, 100), UsageError);
  EXPECT_THROW(f.Int("--n", 1, 1, 100), UsageError);
  Flags g({"--queues", ","}, {"--queues"}, {});
  EXPECT_THROW(g.List("--queues", {}), UsageError);
}
