#include "tests/fuzz/fuzz_body.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "api/dto.h"
#include "api/errors.h"
#include "core/time_format.h"
#include "integrations/openphone.h"
#include "integrations/signing.h"

namespace clubos::fuzz {
namespace {

// A broken invariant is a crash the fuzzer keeps.
void Check(bool ok) {
  if (!ok) std::abort();
}

void Webhook(const std::string& in) {
  const auto r = integrations::ParseOpenPhoneWebhook(in);
  Check(r.event.has_value() != !r.error.empty());
  if (r.event && r.event->type == "message.received")
    Check(!r.event->message_id.empty() && !r.event->from.empty() && !r.event->to.empty());
}

void Signatures(const std::string& in) {
  // "<header>\n<body>": the header as the legacy scheme and as Standard Webhooks' signature list.
  const auto nl = in.find('\n');
  const std::string header = in.substr(0, nl);
  const std::string body = nl == std::string::npos ? "" : in.substr(nl + 1);
  const TimePoint now(std::chrono::seconds(1'800'000'000));
  const auto legacy =
      integrations::VerifyOpenPhoneLegacy(header, body, "c2VjcmV0", now, Millis(300'000));
  Check(legacy != integrations::Verdict::kValid);  // nobody guesses an HMAC
  integrations::VerifyStandardWebhook("msg_1", "1800000000", header, body, "whsec_c2VjcmV0", now,
                                      Millis(300'000));
  integrations::Base64Decode(header);
}

template <typename F>
void Body(F&& parse) {
  try {
    parse();
  } catch (const api::ApiError& e) {
    Check(e.status() == 400);
  }
}

}  // namespace

void FuzzOne(const uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 9) {
    case 0:
      return Webhook(in);
    case 1:
      return Signatures(in);
    case 2:
      return Body([&] {
        const auto m = api::dto::ParseMessage(in);
        Check(!m.from.empty() && !m.to.empty() && !m.body.empty());
      });
    case 3:
      return Body([&] {
        const auto a = api::dto::ParseAction(in);
        const auto target = nlohmann::json::parse(a.target, nullptr, false);
        Check(target.is_object() && !a.kind.empty() && !a.reason.empty());
        Check(!a.thread_id || *a.thread_id > 0);
      });
    case 4:
      return Body([&] {
        const TimePoint now(std::chrono::seconds(1'800'000'000));
        const auto hb = api::dto::ParseHeartbeat(in, now);
        for (const auto& t : {hb.tps_started_at, hb.booted_at})
          Check(!t || *t <= now + workflows::kMaxAgentClockSkew);
      });
    case 5:
      return Body([&] { Check(api::dto::ParseReport(in).command_id > 0); });
    case 6:
      return Body([&] {
        api::dto::ParseResolve(in);
        api::dto::ParseEmptyOrObject(in);
      });
    case 7:
      return Body([&] { Check(!api::dto::ParseFlagRollback(in).empty()); });
    case 8: {
      // Whatever parses as a time formats to a time that parses back to the same instant.
      const auto t = ParseTimestamp(in);
      if (t) Check(ParseTimestamp(FormatIso8601(*t)) == t);
      return;
    }
  }
}

}  // namespace clubos::fuzz
