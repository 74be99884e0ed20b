#pragma once
// What a vendor call came to, in the terms the action machine needs: done, refused for good,
// certainly not done (safe to try again even when the call is not idempotent), or unknown (it
// may have happened: look before trying again). One classification for every vendor:
//   2xx                          kOk
//   4xx (not 408/429)            kRejected   permanent: a retry would be refused the same way
//   429, 503, connection refused kNotDone    the vendor did not act; honour its Retry-After
//   408, 500, 502, 504, timeout  kUnknown    the vendor may have acted
#include <optional>
#include <string>

#include "core/clock.h"
#include "integrations/http.h"

namespace clubos::integrations {

enum class CallStatus { kOk, kRejected, kNotDone, kUnknown };
const char* ToString(CallStatus s);

struct VendorReply {
  CallStatus status = CallStatus::kUnknown;
  long http_status = 0;
  std::string body;
  std::string detail;  // for people: "<vendor> <what>: HTTP 429 ..."; never holds a secret
  std::optional<Millis> retry_after;
  bool ok() const { return status == CallStatus::kOk; }
};

VendorReply Classify(const HttpResponse& response, const std::string& what);

// A refusal before any request was made (a missing secret, a malformed id): permanent.
VendorReply Refused(const std::string& detail);

// The value of an environment variable holding a secret; nullopt when unset or empty.
std::optional<std::string> SecretFromEnv(const std::string& variable);

// Percent-encodes one path segment or form value.
std::string UrlEncode(const std::string& s);

}  // namespace clubos::integrations
