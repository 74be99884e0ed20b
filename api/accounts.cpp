#include "api/accounts.h"

#include <sodium.h>

#include <semaphore>
#include <stdexcept>

#include "store/db.h"
#include "workflows/errors.h"

namespace clubos::api {
namespace {

using workflows::Conflict;
using workflows::InvalidInput;
using workflows::NotFound;

// Random bytes in a session token and in a CSRF token: 256 bits, beyond guessing.
constexpr std::size_t kTokenBytes = 32;
constexpr int kBase64Variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
// 32 bytes in unpadded base64url: 43 characters.
constexpr std::size_t kTokenChars = sodium_base64_ENCODED_LEN(kTokenBytes, kBase64Variant) - 1;

// Hashings running at once, at most. Each takes MEMLIMIT_INTERACTIVE (64 MiB) for its length: a
// burst of logins on the API's 16 handler threads would otherwise take 1 GiB; four take 256 MiB
// and the rest wait their turn, for a while: a crowd of logins must not hold every handler thread
// of the API (intake, the queue) behind the hashing, so past the wait it is told to come back.
constexpr std::ptrdiff_t kMaxConcurrentHashes = 4;
constexpr auto kHashSlotWait = std::chrono::milliseconds(1'000);
std::counting_semaphore<kMaxConcurrentHashes> hash_slots(kMaxConcurrentHashes);

class HashSlot {
 public:
  HashSlot() {
    if (!hash_slots.try_acquire_for(kHashSlotWait))
      throw HashingBusy("too many logins at once; retry in a moment");
  }
  ~HashSlot() { hash_slots.release(); }
  HashSlot(const HashSlot&) = delete;
  HashSlot& operator=(const HashSlot&) = delete;
};

// sodium_init is safe to call from several threads and more than once; the static makes it once.
void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialize");
}

std::string RandomToken() {
  InitSodium();
  unsigned char bytes[kTokenBytes];
  randombytes_buf(bytes, sizeof bytes);
  char text[kTokenChars + 1];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes, kBase64Variant);
  sodium_memzero(bytes, sizeof bytes);
  return std::string(text, kTokenChars);
}

bool LooksLikeToken(const std::string& token) {
  if (token.size() != kTokenChars) return false;
  for (const char c : token)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  return true;
}

// What the sessions table keeps of a token: its SHA-256, in hex. A plain hash (no salt, no
// stretching) suffices: the token is 256 random bits, not a password someone could guess.
std::string TokenHash(const std::string& token) {
  InitSodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, 2 * crypto_hash_sha256_BYTES);
}

void CheckPassword(const std::string& password) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes)
    throw InvalidInput("a password has " + std::to_string(kMinPasswordBytes) + " to " +
                       std::to_string(kMaxPasswordBytes) + " bytes");
}

// The hash Login verifies a password against when the name is unknown, so that an unknown name
// costs the same hashing time as a known one: made once per process, of a random password nobody
// knows, with the same parameters as every stored hash.
const std::string& DummyHash() {
  static const std::string hash = HashPassword(RandomToken());
  return hash;
}

}  // namespace

void CheckUserName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxUserNameBytes;
  for (std::size_t i = 0; ok && i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
  }
  if (!ok)
    throw InvalidInput(
        "a user name has 1 to 32 characters of a-z, 0-9, '.', '_' and '-', and starts with a "
        "letter or a digit");
}

Role AccountRole(const std::string& role) {
  if (role == "operator") return Role::kOperator;
  if (role == "admin") return Role::kAdmin;
  throw InvalidInput("an account's role is operator or admin, not '" + role + "'");
}

// Argon2id at libsodium's INTERACTIVE limits (2 passes over 64 MiB): the setting libsodium names
// for an online login, where the hash is computed while someone waits. Measured on the
// development machine (libsodium 1.0.18, one core): 46 ms per hash, enough to make offline guessing
// of a leaked hash expensive, too little for a person logging in to notice. MODERATE (256 MiB)
// took 386 ms there, and a handful of concurrent logins would then be a memory problem for the API
// process. Tests use the same setting: a suite of a few dozen hashes costs a second or two.
std::string HashPassword(const std::string& password) {
  InitSodium();
  char out[crypto_pwhash_STRBYTES];
  HashSlot slot;
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("hashing a password failed (out of memory)");
  return out;
}

bool VerifyPassword(const std::string& stored_hash, const std::string& password) {
  InitSodium();
  HashSlot slot;
  return crypto_pwhash_str_verify(stored_hash.c_str(), password.data(), password.size()) == 0;
}

Accounts::Accounts(const Clock& clock, Millis session_ttl)
    : clock_(clock), session_ttl_(session_ttl) {
  if (session_ttl_.count() <= 0) throw std::invalid_argument("session_ttl must be positive");
  DummyHash();
}

void Accounts::Add(store::Connection& db, const std::string& name, Role role,
                   const std::string& password) {
  CheckUserName(name);
  if (role != Role::kOperator && role != Role::kAdmin)
    throw InvalidInput(std::string("an account's role is operator or admin, not ") +
                       ToString(role));
  CheckPassword(password);
  const std::string hash = HashPassword(password);
  if (db.ExecOne("account_add", {name, ToString(role), hash, clock_.DbNow()}).Empty())
    throw Conflict("user_exists", "a user named '" + name + "' exists");
}

std::vector<User> Accounts::List(store::Connection& db) {
  const auto r = db.ExecOne("account_list");
  std::vector<User> users;
  users.reserve(r.Size());
  for (std::size_t i = 0; i < r.Size(); ++i)
    users.push_back(User{r.At(i, "id").Int64(), r.At(i, "name").Str(),
                         AccountRole(r.At(i, "role").Str()), r.At(i, "disabled").Bool(),
                         r.At(i, "created_at").Time(), r.At(i, "last_login_at").OptTime()});
  return users;
}

void Accounts::Disable(store::Connection& db, const std::string& name) {
  db.Transact("account_disable", [&](store::Tx& tx) {
    const auto r = tx.Exec("account_set_disabled", {name, true, clock_.DbNow()});
    if (r.Empty()) throw NotFound("no user named '" + name + "'");
    tx.Exec("session_revoke_user", {r.At(0, "id").Int64(), clock_.DbNow()});
  });
}

void Accounts::Enable(store::Connection& db, const std::string& name) {
  if (db.ExecOne("account_set_disabled", {name, false, clock_.DbNow()}).Empty())
    throw NotFound("no user named '" + name + "'");
}

void Accounts::ResetPassword(store::Connection& db, const std::string& name,
                             const std::string& password) {
  CheckPassword(password);
  const std::string hash = HashPassword(password);
  db.Transact("account_reset_password", [&](store::Tx& tx) {
    const auto r = tx.Exec("account_set_password", {name, hash, clock_.DbNow()});
    if (r.Empty()) throw NotFound("no user named '" + name + "'");
    tx.Exec("session_revoke_user", {r.At(0, "id").Int64(), clock_.DbNow()});
  });
}

std::optional<Session> Accounts::Login(store::Connection& db, const std::string& name,
                                       const std::string& password) {
  // One lookup and one verification on every path, so that the time taken does not tell an
  // unknown name from a known one, nor a disabled user from a wrong password.
  const auto r = db.ExecOne("account_for_login", {name});
  if (r.Empty()) {
    VerifyPassword(DummyHash(), password);
    return std::nullopt;
  }
  const int64_t user_id = r.At(0, "id").Int64();
  const std::string hash = r.At(0, "password_hash").Str();
  const bool verified = VerifyPassword(hash, password);
  if (!verified || r.At(0, "disabled").Bool()) return std::nullopt;

  Session s{RandomToken(), RandomToken(), name, AccountRole(r.At(0, "role").Str()), TimePoint{}};
  bool created = false;
  const auto now = clock_.DbNow();
  db.Transact("account_login", [&](store::Tx& tx) {
    tx.Exec("session_prune", {now});
    // Refused when the user was disabled or the password reset since the lookup above.
    const auto c =
        tx.Exec("session_create", {user_id, TokenHash(s.token), s.csrf,
                                   static_cast<long long>(session_ttl_.count()), hash, now});
    created = !c.Empty();
    if (!created) return;
    s.expires_at = c.At(0, "expires_at").Time();
    tx.Exec("account_logged_in", {user_id, now});
  });
  if (!created) return std::nullopt;
  return s;
}

std::optional<Session> Accounts::Find(store::Connection& db, const std::string& token) {
  if (!LooksLikeToken(token)) return std::nullopt;
  const auto r = db.ExecOne("session_find", {TokenHash(token), clock_.DbNow()});
  if (r.Empty()) return std::nullopt;
  return Session{token, r.At(0, "csrf").Str(), r.At(0, "name").Str(),
                 AccountRole(r.At(0, "role").Str()), r.At(0, "expires_at").Time()};
}

void Accounts::Logout(store::Connection& db, const std::string& token) {
  if (!LooksLikeToken(token)) return;
  db.ExecOne("session_revoke", {TokenHash(token), clock_.DbNow()});
}

int Accounts::RevokeAll(store::Connection& db, const std::string& name) {
  int revoked = 0;
  db.Transact("account_revoke_all", [&](store::Tx& tx) {
    const auto u = tx.Exec("account_user_id", {name});
    if (u.Empty()) throw NotFound("no user named '" + name + "'");
    revoked = static_cast<int>(
        tx.Exec("session_revoke_user", {u.At(0, "id").Int64(), clock_.DbNow()}).AffectedRows());
  });
  return revoked;
}

}  // namespace clubos::api
