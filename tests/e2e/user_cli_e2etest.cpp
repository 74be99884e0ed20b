// `clubos user ...` as a real process against the test database: the password travels on stdin
// and never comes back out.
#include <gtest/gtest.h>

#include <chrono>

#include "api/accounts.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"

using namespace clubos;

namespace {

constexpr const char* kPassword = "s3cret-Pa55word-xyz";

class UserCli : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
  }
  pgtest::RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    auto r = pgtest::RunClubos(
        args, {"CLUBOS_DATABASE_URL=" + pgtest::TestDatabaseUrl(), "CLUBOS_LOG_LEVEL=debug"},
        input);
    EXPECT_EQ(r.out.find(kPassword), std::string::npos) << "the password on stdout: " << r.out;
    EXPECT_EQ(r.err.find(kPassword), std::string::npos) << "the password on stderr: " << r.err;
    return r;
  }
  int64_t Users() { return db_->ExecRawOne("SELECT count(*) FROM users").At(0, 0).Int64(); }

  std::unique_ptr<store::Connection> db_;
};

}  // namespace

TEST_F(UserCli, AddThenListThenLogin) {
  auto r = Run({"user", "add", "ana", "--role", "admin"}, std::string(kPassword) + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("added ana (admin)"), std::string::npos) << r.out;

  r = Run({"user", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NAME"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ana"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("admin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("never"), std::string::npos) << r.out;

  // The line's ending is not part of the password.
  api::Accounts accounts(SystemClock::Instance());
  EXPECT_TRUE(accounts.Login(*db_, "ana", kPassword));

  // --database-url instead of the variable.
  r = pgtest::RunClubos({"user", "list", "--database-url", pgtest::TestDatabaseUrl()}, {}, "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ana"), std::string::npos) << r.out;
}

TEST_F(UserCli, DisableEnableAndResetPassword) {
  ASSERT_EQ(
      Run({"user", "add", "bo", "--role", "operator"}, std::string(kPassword) + "\r\n").exit_code,
      0);
  api::Accounts accounts(SystemClock::Instance());
  const auto s = accounts.Login(*db_, "bo", kPassword);
  ASSERT_TRUE(s);

  auto r = Run({"user", "disable", "bo"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(accounts.Find(*db_, s->token));
  r = Run({"user", "list"});
  EXPECT_NE(r.out.find("yes"), std::string::npos) << r.out;
  ASSERT_EQ(Run({"user", "enable", "bo"}).exit_code, 0);
  EXPECT_TRUE(accounts.Login(*db_, "bo", kPassword));

  const std::string fresh = "another-long-password";
  r = Run({"user", "reset-password", "bo"}, fresh + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find(fresh), std::string::npos);
  EXPECT_FALSE(accounts.Login(*db_, "bo", kPassword));
  EXPECT_TRUE(accounts.Login(*db_, "bo", fresh));
}

TEST_F(UserCli, BadInputChangesNothing) {
  // Usage: exit 2.
  EXPECT_EQ(Run({"user"}).exit_code, 2);
  EXPECT_EQ(Run({"user", "add", "ana"}, std::string(kPassword) + "\n").exit_code, 2);
  EXPECT_EQ(
      Run({"user", "add", "ana", "--role", "service"}, std::string(kPassword) + "\n").exit_code, 2);
  EXPECT_EQ(
      Run({"user", "add", "Ana!", "--role", "operator"}, std::string(kPassword) + "\n").exit_code,
      2);
  EXPECT_EQ(Run({"user", "add", "--role", "operator"}, std::string(kPassword) + "\n").exit_code, 2);
  EXPECT_EQ(Run({"user", "frobnicate", "ana"}).exit_code, 2);
  EXPECT_EQ(Run({"user", "add", "ana", "--role", "operator"}, "").exit_code, 2)
      << "no password on stdin";
  EXPECT_EQ(Users(), 0);
  // Refused: exit 1.
  auto r = Run({"user", "add", "ana", "--role", "operator"}, "short\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("10 to 256 bytes"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("short"), std::string::npos) << "the refused password echoed: " << r.err;
  EXPECT_EQ(Users(), 0);
  ASSERT_EQ(
      Run({"user", "add", "ana", "--role", "operator"}, std::string(kPassword) + "\n").exit_code,
      0);
  r = Run({"user", "add", "ana", "--role", "admin"}, std::string(kPassword) + "\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"user", "disable", "nobody"}).exit_code, 1);
  EXPECT_EQ(Run({"user", "reset-password", "nobody"}, "a long new password\n").exit_code, 1);
  EXPECT_EQ(Users(), 1);
}
