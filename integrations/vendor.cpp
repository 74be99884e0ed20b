#include "integrations/vendor.h"

#include <cstdlib>

namespace clubos::integrations {

const char* ToString(CallStatus s) {
  switch (s) {
    case CallStatus::kOk:
      return "ok";
    case CallStatus::kRejected:
      return "rejected";
    case CallStatus::kNotDone:
      return "not_done";
    case CallStatus::kUnknown:
      return "unknown";
  }
  return "?";
}

VendorReply Classify(const HttpResponse& r, const std::string& what) {
  VendorReply v;
  v.http_status = r.status;
  v.body = r.body;
  v.retry_after = r.RetryAfter();
  if (r.transport == HttpResponse::Transport::kNotSent) {
    v.status = CallStatus::kNotDone;
    v.detail = what + ": not sent (" + r.error + ")";
    return v;
  }
  if (r.transport == HttpResponse::Transport::kUnknown) {
    v.status = CallStatus::kUnknown;
    v.detail = what + ": no answer (" + r.error + ")";
    return v;
  }
  const long s = r.status;
  if (s >= 200 && s < 300)
    v.status = CallStatus::kOk;
  else if (s == 429 || s == 503)
    v.status = CallStatus::kNotDone;
  else if (s >= 400 && s < 500 && s != 408)
    v.status = CallStatus::kRejected;
  else
    v.status = CallStatus::kUnknown;
  v.detail = what + ": HTTP " + std::to_string(s);
  if (!v.ok() && !r.body.empty()) v.detail += " " + r.body.substr(0, 200);
  return v;
}

VendorReply Refused(const std::string& detail) {
  VendorReply v;
  v.status = CallStatus::kRejected;
  v.detail = detail;
  return v;
}

std::optional<std::string> SecretFromEnv(const std::string& variable) {
  const char* v = variable.empty() ? nullptr : std::getenv(variable.c_str());
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace clubos::integrations
