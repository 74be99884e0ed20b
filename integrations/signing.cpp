#include "integrations/signing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <vector>

namespace clubos::integrations {
namespace {

std::optional<int64_t> ParseInt(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool InWindow(int64_t stamp_ms, TimePoint now, Millis window) {
  const int64_t now_ms = now.time_since_epoch().count() / 1000;
  return std::llabs(now_ms - stamp_ms) <= window.count();
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

std::string Base64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string HmacSha256(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

const char* ToString(Verdict v) {
  switch (v) {
    case Verdict::kValid:
      return "valid";
    case Verdict::kMissing:
      return "missing signature";
    case Verdict::kMalformed:
      return "malformed signature";
    case Verdict::kStale:
      return "timestamp outside the replay window";
    case Verdict::kBadSignature:
      return "signature does not match";
    case Verdict::kBadSecret:
      return "configured signing secret is not valid base64";
  }
  return "?";
}

Verdict VerifyOpenPhoneLegacy(const std::string& header, const std::string& raw_body,
                              const std::string& signing_secret_b64, TimePoint now, Millis window) {
  if (header.empty()) return Verdict::kMissing;
  const auto parts = Split(header, ';');
  if (parts.size() != 4 || parts[0] != "hmac" || parts[1] != "1") return Verdict::kMalformed;
  const auto stamp = ParseInt(parts[2]);
  if (!stamp) return Verdict::kMalformed;
  const int64_t stamp_ms =
      parts[2].size() >= 13 ? *stamp : *stamp * 1000;  // ms in the docs' example
  if (!InWindow(stamp_ms, now, window)) return Verdict::kStale;
  const auto key = Base64Decode(signing_secret_b64);
  if (!key) return Verdict::kBadSecret;
  const std::string expected = Base64Encode(HmacSha256(*key, parts[2] + "." + raw_body));
  return ConstantTimeEqual(expected, parts[3]) ? Verdict::kValid : Verdict::kBadSignature;
}

Verdict VerifyStandardWebhook(const std::string& id, const std::string& timestamp,
                              const std::string& signatures, const std::string& raw_body,
                              const std::string& whsec_key, TimePoint now, Millis window) {
  if (signatures.empty()) return Verdict::kMissing;
  const auto stamp = ParseInt(timestamp);
  if (id.empty() || !stamp) return Verdict::kMalformed;
  if (!InWindow(*stamp * 1000, now, window)) return Verdict::kStale;
  const std::string prefix = "whsec_";
  const auto key =
      Base64Decode(whsec_key.rfind(prefix, 0) == 0 ? whsec_key.substr(prefix.size()) : whsec_key);
  if (!key) return Verdict::kBadSecret;
  const std::string expected =
      Base64Encode(HmacSha256(*key, id + "." + timestamp + "." + raw_body));
  bool well_formed = false;
  for (const auto& entry : Split(signatures, ' ')) {
    if (entry.rfind("v1,", 0) != 0) continue;
    well_formed = true;
    if (ConstantTimeEqual(expected, entry.substr(3))) return Verdict::kValid;
  }
  return well_formed ? Verdict::kBadSignature : Verdict::kMalformed;
}

Verdict VerifySlack(const std::string& timestamp, const std::string& signature,
                    const std::string& raw_body, const std::string& signing_secret, TimePoint now,
                    Millis window) {
  if (signature.empty()) return Verdict::kMissing;
  const auto stamp = ParseInt(timestamp);
  if (!stamp || signature.rfind("v0=", 0) != 0) return Verdict::kMalformed;
  if (!InWindow(*stamp * 1000, now, window)) return Verdict::kStale;
  const std::string expected =
      "v0=" + Hex(HmacSha256(signing_secret, "v0:" + timestamp + ":" + raw_body));
  return ConstantTimeEqual(expected, signature) ? Verdict::kValid : Verdict::kBadSignature;
}

}  // namespace clubos::integrations
