#pragma once
// Webhook signatures of the vendors ClubOS listens to, checked before a body is parsed:
// OpenPhone's legacy `openphone-signature: hmac;1;<ts>;<b64>` over "<ts>.<raw body>" with the
// base64-decoded signing secret; the Standard Webhooks scheme of OpenPhone's newer webhooks
// (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> ...`, key `whsec_<b64>`); and
// Slack's `X-Slack-Signature: v0=<hex>`. Comparisons are constant-time; timestamps must fall in
// a replay window. Formats: shared/reference/integrations.md §2.2, §2.4, §5.
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/text.h"

namespace clubos::integrations {

std::string Base64Encode(const std::string& bytes);
std::optional<std::string> Base64Decode(const std::string& text);
std::string HmacSha256(const std::string& key, const std::string& message);  // raw bytes
std::string Hex(const std::string& bytes);
using ::clubos::ConstantTimeEqual;  // core/text.h

enum class Verdict {
  kValid,
  kMissing,       // no signature header
  kMalformed,     // the header is not of the scheme's form
  kStale,         // the timestamp is outside the replay window
  kBadSignature,  // well-formed, in time, and wrong
  kBadSecret,     // our configured secret is not valid base64 (an operator error, not the caller's)
};
const char* ToString(Verdict v);

// `header`: the value of `openphone-signature` (empty when absent). `signing_secret_b64`: as the
// OpenPhone app shows it. The timestamp may be in seconds or milliseconds (the docs show both).
Verdict VerifyOpenPhoneLegacy(const std::string& header, const std::string& raw_body,
                              const std::string& signing_secret_b64, TimePoint now, Millis window);

// The Standard Webhooks scheme: HMAC over "<id>.<timestamp>.<body>"; `signatures` may list several
// space-separated "v1,<b64>" entries (key rotation); any one matching is enough.
Verdict VerifyStandardWebhook(const std::string& id, const std::string& timestamp,
                              const std::string& signatures, const std::string& raw_body,
                              const std::string& whsec_key, TimePoint now, Millis window);

// Slack: "v0=" + hex(HMAC(secret, "v0:<timestamp>:<body>")).
Verdict VerifySlack(const std::string& timestamp, const std::string& signature,
                    const std::string& raw_body, const std::string& signing_secret, TimePoint now,
                    Millis window);

}  // namespace clubos::integrations
