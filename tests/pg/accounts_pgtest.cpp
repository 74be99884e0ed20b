// Operator accounts and sessions (api/accounts.h) against real Postgres, with a fake clock.
#include <gtest/gtest.h>

#include <chrono>

#include "api/accounts.h"
#include "store/db.h"
#include "tests/support/pg.h"
#include "workflows/errors.h"

using namespace clubos;
using api::Accounts;
using api::Role;

namespace {

constexpr const char* kPassword = "correct horse battery";

class AccountsPg : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    pgtest::ResetDatabase();
    db_ = pgtest::Connect();
  }
  int64_t Count(const std::string& sql, const std::vector<store::Param>& params = {}) {
    return db_->ExecSql(sql, params).At(0, 0).Int64();
  }

  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  std::unique_ptr<store::Connection> db_;
  Accounts accounts_{clock_, Millis(std::chrono::hours(12))};
};

}  // namespace

TEST(Passwords, HashIsArgon2idAndVerifiesOnlyThePassword) {
  const std::string hash = api::HashPassword(kPassword);
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find(kPassword), std::string::npos);
  EXPECT_TRUE(api::VerifyPassword(hash, kPassword));
  EXPECT_FALSE(api::VerifyPassword(hash, "correct horse battery!"));
  EXPECT_FALSE(api::VerifyPassword(hash, ""));
  EXPECT_FALSE(api::VerifyPassword("not a hash", kPassword));
  // Salted: the same password hashes differently each time.
  EXPECT_NE(api::HashPassword(kPassword), hash);
}

TEST_F(AccountsPg, AddListAndLogin) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  accounts_.Add(*db_, "bo.admin", Role::kAdmin, "another password");
  auto users = accounts_.List(*db_);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "ana");
  EXPECT_EQ(users[0].role, Role::kOperator);
  EXPECT_FALSE(users[0].disabled);
  EXPECT_FALSE(users[0].last_login_at);
  EXPECT_EQ(users[0].created_at, clock_.Now());
  EXPECT_EQ(users[1].name, "bo.admin");
  EXPECT_EQ(users[1].role, Role::kAdmin);

  const auto s = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name, "ana");
  EXPECT_EQ(s->role, Role::kOperator);
  EXPECT_EQ(s->token.size(), 43u);
  EXPECT_EQ(s->csrf.size(), 43u);
  EXPECT_NE(s->token, s->csrf);
  EXPECT_EQ(s->expires_at, clock_.Now() + std::chrono::hours(12));
  users = accounts_.List(*db_);
  ASSERT_TRUE(users[0].last_login_at);
  EXPECT_EQ(*users[0].last_login_at, clock_.Now());

  const auto found = accounts_.Find(*db_, s->token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "ana");
  EXPECT_EQ(found->role, Role::kOperator);
  EXPECT_EQ(found->csrf, s->csrf);
  EXPECT_EQ(found->expires_at, s->expires_at);
  // Two logins are two sessions, with tokens of their own.
  const auto again = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(again);
  EXPECT_NE(again->token, s->token);
  EXPECT_TRUE(accounts_.Find(*db_, s->token));
}

TEST_F(AccountsPg, LoginFailsAlikeForWrongPasswordUnknownAndDisabledUsers) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  accounts_.Add(*db_, "cy", Role::kOperator, kPassword);
  accounts_.Disable(*db_, "cy");
  EXPECT_FALSE(accounts_.Login(*db_, "ana", "correct horse batterx"));
  EXPECT_FALSE(accounts_.Login(*db_, "ana", ""));
  EXPECT_FALSE(accounts_.Login(*db_, "nobody", kPassword));
  EXPECT_FALSE(accounts_.Login(*db_, "NOT A NAME'; --", kPassword));
  EXPECT_FALSE(accounts_.Login(*db_, "cy", kPassword));
  EXPECT_EQ(Count("SELECT count(*) FROM sessions"), 0);
  accounts_.Enable(*db_, "cy");
  EXPECT_TRUE(accounts_.Login(*db_, "cy", kPassword));
}

// An unknown name is verified against a dummy hash: it costs a hashing, like a known name with a
// wrong password. Compared loosely (the machine is shared): a lookup alone takes well under a
// millisecond, a hashing tens of them.
TEST_F(AccountsPg, AnUnknownNameCostsAHashingToo) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  auto time = [&](const std::string& name) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(accounts_.Login(*db_, name, "wrong password"));
    return std::chrono::steady_clock::now() - t0;
  };
  const auto known = time("ana");
  const auto unknown = time("nobody");
  EXPECT_GT(unknown, known / 4) << "an unknown name answered without hashing";
}

TEST_F(AccountsPg, DuplicateNameIsAConflict) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  try {
    accounts_.Add(*db_, "ana", Role::kAdmin, "some other password");
    FAIL() << "a second ana was added";
  } catch (const workflows::Conflict& e) {
    EXPECT_EQ(e.code(), "user_exists");
  }
  const auto users = accounts_.List(*db_);
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].role, Role::kOperator);
  EXPECT_TRUE(accounts_.Login(*db_, "ana", kPassword));
}

TEST_F(AccountsPg, BadNamesRolesAndPasswordsAreRefusedAndNothingIsStored) {
  for (const std::string& name :
       std::vector<std::string>{"", "Ana", ".ana", "-ana", "_ana", "an a", "ana!", "ana/b", "ána",
                                std::string(33, 'a'), std::string("an\0a", 4), "ana\n"})
    EXPECT_THROW(accounts_.Add(*db_, name, Role::kOperator, kPassword), workflows::InvalidInput)
        << name;
  EXPECT_THROW(accounts_.Add(*db_, "ana", Role::kService, kPassword), workflows::InvalidInput);
  EXPECT_THROW(accounts_.Add(*db_, "ana", Role::kDev, kPassword), workflows::InvalidInput);
  EXPECT_THROW(accounts_.Add(*db_, "ana", Role::kOperator, "123456789"), workflows::InvalidInput);
  EXPECT_THROW(accounts_.Add(*db_, "ana", Role::kOperator, std::string(257, 'x')),
               workflows::InvalidInput);
  EXPECT_EQ(Count("SELECT count(*) FROM users"), 0);

  EXPECT_THROW(api::AccountRole("service"), workflows::InvalidInput);
  EXPECT_EQ(api::AccountRole("admin"), Role::kAdmin);
  // The limits themselves are accepted.
  accounts_.Add(*db_, "0", Role::kOperator, std::string(10, 'x'));
  accounts_.Add(*db_, "a" + std::string(31, '-'), Role::kOperator, std::string(256, 'x'));
  accounts_.Add(*db_, "a.b_c-9", Role::kOperator, kPassword);
  EXPECT_EQ(Count("SELECT count(*) FROM users"), 3);
}

TEST_F(AccountsPg, ASessionEndsWhenItExpires) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  const auto s = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(s);
  clock_.Advance(std::chrono::hours(12) - std::chrono::seconds(1));
  EXPECT_TRUE(accounts_.Find(*db_, s->token));
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(accounts_.Find(*db_, s->token));
  // Expired more than a day ago: the next login prunes it.
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(Count("SELECT count(*) FROM sessions"), 1);
  ASSERT_TRUE(accounts_.Login(*db_, "ana", kPassword));
  EXPECT_EQ(Count("SELECT count(*) FROM sessions"), 1);
}

TEST_F(AccountsPg, LogoutRevokesThatSessionOnlyAndIsIdempotent) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  const auto a = accounts_.Login(*db_, "ana", kPassword);
  const auto b = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(a && b);
  accounts_.Logout(*db_, a->token);
  EXPECT_FALSE(accounts_.Find(*db_, a->token));
  EXPECT_TRUE(accounts_.Find(*db_, b->token));
  accounts_.Logout(*db_, a->token);
  accounts_.Logout(*db_, "not a token");
  EXPECT_FALSE(accounts_.Find(*db_, a->token));
  EXPECT_FALSE(accounts_.Find(*db_, ""));
  EXPECT_FALSE(accounts_.Find(*db_, std::string(43, 'A')));
}

TEST_F(AccountsPg, DisableRevokesEverySessionAndEnableDoesNotRestoreThem) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  accounts_.Add(*db_, "bo", Role::kOperator, kPassword);
  const auto a1 = accounts_.Login(*db_, "ana", kPassword);
  const auto a2 = accounts_.Login(*db_, "ana", kPassword);
  const auto b = accounts_.Login(*db_, "bo", kPassword);
  ASSERT_TRUE(a1 && a2 && b);
  accounts_.Disable(*db_, "ana");
  EXPECT_TRUE(accounts_.List(*db_)[0].disabled);
  EXPECT_FALSE(accounts_.Find(*db_, a1->token));
  EXPECT_FALSE(accounts_.Find(*db_, a2->token));
  EXPECT_TRUE(accounts_.Find(*db_, b->token));
  EXPECT_EQ(Count("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL"), 2);
  accounts_.Enable(*db_, "ana");
  EXPECT_FALSE(accounts_.Find(*db_, a1->token));
  EXPECT_THROW(accounts_.Disable(*db_, "nobody"), workflows::NotFound);
  EXPECT_THROW(accounts_.Enable(*db_, "nobody"), workflows::NotFound);
}

// A session found while its user is disabled by hand (not through Disable, so no revocation):
// Find checks the user too.
TEST_F(AccountsPg, FindRefusesTheSessionOfADisabledUser) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  const auto s = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(s);
  db_->ExecRawOne("UPDATE users SET disabled = true");
  EXPECT_FALSE(accounts_.Find(*db_, s->token));
}

TEST_F(AccountsPg, ResetPasswordRevokesEverySessionAndChangesThePassword) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  const auto s = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(s);
  EXPECT_THROW(accounts_.ResetPassword(*db_, "ana", "short"), workflows::InvalidInput);
  EXPECT_TRUE(accounts_.Find(*db_, s->token)) << "a refused reset changed something";
  EXPECT_THROW(accounts_.ResetPassword(*db_, "nobody", "a new password"), workflows::NotFound);
  accounts_.ResetPassword(*db_, "ana", "a new password");
  EXPECT_FALSE(accounts_.Find(*db_, s->token));
  EXPECT_FALSE(accounts_.Login(*db_, "ana", kPassword));
  EXPECT_TRUE(accounts_.Login(*db_, "ana", "a new password"));
}

TEST_F(AccountsPg, RevokeAllCountsTheLiveSessions) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  ASSERT_TRUE(accounts_.Login(*db_, "ana", kPassword));
  const auto s = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(s);
  accounts_.Logout(*db_, s->token);
  ASSERT_TRUE(accounts_.Login(*db_, "ana", kPassword));
  EXPECT_EQ(accounts_.RevokeAll(*db_, "ana"), 2);
  EXPECT_EQ(accounts_.RevokeAll(*db_, "ana"), 0);
  EXPECT_THROW(accounts_.RevokeAll(*db_, "nobody"), workflows::NotFound);
}

// The table holds the SHA-256 of a token, never the token: a copy of it lets nobody in.
TEST_F(AccountsPg, TheTokenIsNotStored) {
  accounts_.Add(*db_, "ana", Role::kOperator, kPassword);
  const auto s = accounts_.Login(*db_, "ana", kPassword);
  ASSERT_TRUE(s);
  EXPECT_EQ(Count("SELECT count(*) FROM sessions s WHERE strpos(s::text, $1) > 0", {s->token}), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM sessions s WHERE strpos(s::text, $1) > 0", {s->csrf}), 1)
      << "the CSRF token is stored as given";
  EXPECT_EQ(Count("SELECT count(*) FROM users u WHERE strpos(u::text, $1) > 0", {kPassword}), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM sessions WHERE token_hash = "
                  "encode(sha256(convert_to($1, 'UTF8')), 'hex')",
                  {s->token}),
            1);
}
