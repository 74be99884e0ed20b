#pragma once
// Who is calling: bearer tokens with roles, and a per-token rate limit.
//
// Tokens come from CLUBOS_API_TOKENS (or the file named by CLUBOS_API_TOKENS_FILE): a list of
// `role:token` or `role:name:token` entries separated by commas (or newlines in the file). In the
// file, `#` at the start of a line or after a blank starts a comment; a `#` inside a token is part
// of it, and the variable has no comments at all (a `#` there once cut a token short and dropped
// every later entry, silently: defect L8). Roles: service (intake and confirmations from other
// systems), operator, admin (everything an operator may, plus door unlocks by hand). The name says
// who acted in the history (`operator:<name>`); without one, the role is the name. Tokens are at
// least 16 characters and contain no ':' or ','. They are compared in constant time against every
// configured token, and never logged.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos::api {

enum class Role { kService, kOperator, kAdmin, kDev };
const char* ToString(Role role);

struct Principal {
  Role role = Role::kService;
  std::string name;
  // What the history records as the actor: `operator:<name>` for operators and admins,
  // `service:<name>` for services.
  std::string Actor() const;
  // admin includes operator; service is separate; dev (--insecure-dev) passes every check.
  bool Has(Role needed) const;
};

class TokenError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where a token list comes from: the variable (no comments) or a file (comments, see above).
enum class TokenSource { kVariable, kFile };

class TokenSet {
 public:
  // Throws TokenError naming the entry (by position, never by its secret).
  static TokenSet Parse(const std::string& spec, TokenSource source = TokenSource::kVariable);
  // CLUBOS_API_TOKENS, else the file CLUBOS_API_TOKENS_FILE names, else empty.
  static TokenSet FromEnvironment();

  // The principal the token belongs to. Every configured token is compared, in constant time.
  std::optional<Principal> Find(const std::string& token) const;
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string digest;  // HMAC-SHA256 of the token under a per-process key: fixed length
    Principal principal;
  };
  std::string Digest(const std::string& token) const;
  std::string key_;
  std::vector<Entry> entries_;
};

// A token bucket per key (a token's principal): `rate_per_s` sustained, `burst` at once.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}
  // nullopt: allowed (one unit taken). Otherwise how long until one unit is available.
  std::optional<Millis> Take(const std::string& key,
                             std::chrono::steady_clock::time_point now = MonoNow());
  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  double rate_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // keyed by configured principals: bounded
};

// Failed authentications per client address (a wrong bearer token, a wrong device key): after
// `max_failures` within `window`, every request from that address that needs a credential is
// refused 429 until the window ends, right credentials too (else guessing would go on, with 429
// for a wrong guess and 200 for the right one). Counted from the first failure of a window.
// Behind a proxy every client has the proxy's address: the proxy must then throttle per real
// client (docs/api.md), and this limit is best set loose or off.
class FailureThrottle {
 public:
  using Instant = std::chrono::steady_clock::time_point;
  FailureThrottle(int max_failures, Millis window) : max_(max_failures), window_(window) {}
  bool enabled() const { return max_ > 0; }
  // nullopt: the address may try. Otherwise how long until it may again.
  std::optional<Millis> Blocked(const std::string& address, Instant now = MonoNow());
  void Failed(const std::string& address, Instant now = MonoNow());

 private:
  // Addresses tracked at once, at most: past it expired entries are dropped, and while it stays
  // full, new addresses are not tracked (an attacker with that many addresses is the network's to
  // stop, not this map's to grow without bound).
  static constexpr std::size_t kMaxAddresses = 65'536;
  struct Entry {
    int failures = 0;
    Instant since;
  };
  int max_;
  Millis window_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace clubos::api
