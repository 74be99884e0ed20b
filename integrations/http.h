#pragma once
// Outbound HTTP for the vendor adapters (libcurl; Pistache's client is not used, see
// toolchain.md). Every call has a deadline; the answer says whether the request certainly did not
// happen, certainly happened, or might have — which is what the `executing` rule needs to know.
#include <map>
#include <optional>
#include <string>

#include "core/clock.h"

namespace clubos::integrations {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
  Millis timeout{10'000};
  Millis connect_timeout{3'000};
  bool verify_tls = true;  // off only when configured (UniFi consoles use self-signed certificates)
};

struct HttpResponse {
  enum class Transport {
    kOk,       // an HTTP answer arrived (any status)
    kNotSent,  // connecting failed: the request certainly did not reach the server
    kUnknown,  // timed out or broke after sending: it may have been processed
  };
  Transport transport = Transport::kOk;
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;  // when transport is not kOk
  // Retry-After in seconds, when the server sent one.
  std::optional<Millis> RetryAfter() const;
};

HttpResponse Send(const HttpRequest& request);

}  // namespace clubos::integrations
