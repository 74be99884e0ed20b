#pragma once
// Operator accounts and their login sessions: the people behind the `operator:<name>` actors of
// the history. Passwords are stored as Argon2id hashes (libsodium's crypto_pwhash_str); a login
// gives a session, named by a random token that is handed out once and stored only as its
// SHA-256, with a CSRF token for the requests that change state. A session ends when it expires,
// at logout, or when its user is disabled or has the password reset.
//
// Refusals are the domain's errors (workflows/errors.h), which the API already maps:
// InvalidInput (422) for a bad name, role or password, Conflict (409, code "user_exists") for a
// name taken, NotFound (404) for an unknown user. A failed login is nullopt whatever the reason,
// and costs the same time whatever the reason.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/auth.h"
#include "core/clock.h"

namespace clubos::store {
class Connection;
}

namespace clubos::api {

struct User {
  int64_t id = 0;
  std::string name;
  Role role = Role::kOperator;
  bool disabled = false;
  TimePoint created_at;
  std::optional<TimePoint> last_login_at;
};

struct Session {
  std::string token;  // Login: the new token (shown once). Find: the token it was given.
  std::string csrf;   // state-changing requests carry it (compare in constant time)
  std::string name;
  Role role = Role::kOperator;
  TimePoint expires_at;
};

// Limits of what Add and ResetPassword accept.
inline constexpr std::size_t kMinPasswordBytes = 10;
inline constexpr std::size_t kMaxPasswordBytes = 256;
inline constexpr std::size_t kMaxUserNameBytes = 32;

// Throws workflows::InvalidInput unless `name` matches ^[a-z0-9][a-z0-9._-]{0,31}$.
void CheckUserName(const std::string& name);
// "operator" or "admin"; anything else (service included: services use tokens) is InvalidInput.
Role AccountRole(const std::string& role);

// crypto_pwhash_str with Argon2id at libsodium's INTERACTIVE limits (see accounts.cpp for why).
std::string HashPassword(const std::string& password);
// False for a wrong password and for a string that is not such a hash.
bool VerifyPassword(const std::string& stored_hash, const std::string& password);

// Every hashing slot stayed taken for a second (a burst of logins): the caller retries shortly
// (the API answers 503 busy with Retry-After).
class HashingBusy : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Accounts {
 public:
  // Computes the dummy hash that Login verifies unknown names against (one hashing time, once).
  explicit Accounts(const Clock& clock, Millis session_ttl = Millis(std::chrono::hours(12)));

  void Add(store::Connection& db, const std::string& name, Role role, const std::string& password);
  std::vector<User> List(store::Connection& db);
  // Also revokes every session of the user.
  void Disable(store::Connection& db, const std::string& name);
  void Enable(store::Connection& db, const std::string& name);
  // Revokes every session of the user.
  void ResetPassword(store::Connection& db, const std::string& name, const std::string& password);
  // nullopt for an unknown user, a disabled user and a wrong password alike, after the same
  // hashing work in each case. Prunes sessions expired more than a day ago.
  std::optional<Session> Login(store::Connection& db, const std::string& name,
                               const std::string& password);
  // The live session the token names: not expired, not revoked, its user not disabled.
  std::optional<Session> Find(store::Connection& db, const std::string& token);
  // Revokes the session (idempotent; an unknown token is no error).
  void Logout(store::Connection& db, const std::string& token);
  // Revokes every live session of the user; returns how many. NotFound for an unknown user.
  int RevokeAll(store::Connection& db, const std::string& name);

 private:
  const Clock& clock_;
  Millis session_ttl_;
};

}  // namespace clubos::api
