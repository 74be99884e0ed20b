#include "api/auth.h"

#include <openssl/rand.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "integrations/signing.h"

namespace clubos::api {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::optional<Role> RoleOf(const std::string& s) {
  if (s == "service") return Role::kService;
  if (s == "operator") return Role::kOperator;
  if (s == "admin") return Role::kAdmin;
  return std::nullopt;
}

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.' || c == '@'))
      return false;
  return true;
}

bool ValidToken(const std::string& s) {
  if (s.size() < 16 || s.size() > 512) return false;
  for (char c : s)
    if (c <= ' ' || c > '~' || c == ':' || c == ',') return false;
  return true;
}

}  // namespace

const char* ToString(Role role) {
  switch (role) {
    case Role::kService:
      return "service";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
    case Role::kDev:
      return "dev";
  }
  return "?";
}

std::string Principal::Actor() const {
  return std::string(role == Role::kService ? "service:" : "operator:") + name;
}

bool Principal::Has(Role needed) const {
  if (role == Role::kDev || role == needed) return true;
  return role == Role::kAdmin && needed == Role::kOperator;
}

TokenSet TokenSet::Parse(const std::string& spec, TokenSource source) {
  TokenSet set;
  set.key_.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(set.key_.data()), 32) != 1)
    throw TokenError("no randomness for the token digest key");
  std::string normalized;
  std::istringstream lines(spec);
  for (std::string line; std::getline(lines, line);) {
    if (source == TokenSource::kFile)
      for (std::size_t i = 0; i < line.size(); ++i)
        if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
          line.resize(i);  // a comment: tokens hold no blanks, so nothing of one is cut
          break;
        }
    normalized += line + ",";
  }
  std::size_t position = 0;
  std::size_t start = 0;
  while (start < normalized.size()) {
    std::size_t end = normalized.find(',', start);
    if (end == std::string::npos) end = normalized.size();
    const std::string entry = Trim(normalized.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;
    ++position;
    const std::string where = "token entry " + std::to_string(position);
    const auto c1 = entry.find(':');
    if (c1 == std::string::npos) throw TokenError(where + " is not role:token or role:name:token");
    const auto role = RoleOf(entry.substr(0, c1));
    if (!role) throw TokenError(where + ": role must be service, operator or admin");
    std::string name = entry.substr(0, c1), token = entry.substr(c1 + 1);
    if (const auto c2 = token.find(':'); c2 != std::string::npos) {
      name = token.substr(0, c2);
      token = token.substr(c2 + 1);
      if (!ValidName(name)) throw TokenError(where + ": the name must match [A-Za-z0-9_.@-]{1,64}");
    }
    if (!ValidToken(token))
      throw TokenError(where +
                       ": the token must be 16..512 printable characters without blanks, ':' or "
                       "','" +
                       (source == TokenSource::kFile
                            ? " (a comment starts a line or follows a blank)"
                            : " (the variable has no comments)"));
    const std::string digest = set.Digest(token);
    for (const auto& e : set.entries_)
      if (e.digest == digest) throw TokenError(where + " repeats an earlier token");
    set.entries_.push_back({digest, {*role, name}});
  }
  return set;
}

TokenSet TokenSet::FromEnvironment() {
  if (const char* v = std::getenv("CLUBOS_API_TOKENS"); v && *v) return Parse(v);
  if (const char* path = std::getenv("CLUBOS_API_TOKENS_FILE"); path && *path) {
    std::ifstream f(path);
    if (!f) throw TokenError(std::string("cannot read CLUBOS_API_TOKENS_FILE ") + path);
    std::stringstream text;
    text << f.rdbuf();
    return Parse(text.str(), TokenSource::kFile);
  }
  return Parse("");
}

std::string TokenSet::Digest(const std::string& token) const {
  return integrations::HmacSha256(key_, token);
}

std::optional<Principal> TokenSet::Find(const std::string& token) const {
  const std::string digest = Digest(token);
  std::optional<Principal> found;
  // No early exit: the time taken does not depend on which entry matched, or whether one did.
  for (const auto& e : entries_)
    if (integrations::ConstantTimeEqual(e.digest, digest)) found = e.principal;
  return found;
}

std::optional<Millis> RateLimiter::Take(const std::string& key,
                                        std::chrono::steady_clock::time_point now) {
  if (rate_ <= 0) return std::nullopt;
  std::lock_guard lk(mu_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed_s = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed_s) * rate_);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  const double wait_s = (1.0 - b.tokens) / rate_;
  return Millis(static_cast<int64_t>(std::ceil(wait_s * 1000.0)));
}

std::optional<Millis> FailureThrottle::Blocked(const std::string& address, Instant now) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lk(mu_);
  const auto it = entries_.find(address);
  if (it == entries_.end() || it->second.failures < max_) return std::nullopt;
  const auto left = it->second.since + window_ - now;
  if (left <= Instant::duration::zero()) return std::nullopt;
  return std::chrono::ceil<Millis>(left);
}

void FailureThrottle::Failed(const std::string& address, Instant now) {
  if (!enabled()) return;
  std::lock_guard lk(mu_);
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxAddresses)
      std::erase_if(entries_, [&](const auto& e) { return e.second.since + window_ <= now; });
    if (entries_.size() >= kMaxAddresses) return;
    it = entries_.emplace(address, Entry{0, now}).first;
  }
  Entry& e = it->second;
  if (e.since + window_ <= now) e = Entry{0, now};  // a new window
  ++e.failures;
}

}  // namespace clubos::api
