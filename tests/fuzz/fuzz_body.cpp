#include "tests/fuzz/fuzz_body.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "api/cursor.h"
#include "api/dto.h"
#include "api/errors.h"
#include "core/text.h"
#include "core/time_format.h"
#include "http/http_framing.h"
#include "integrations/openphone.h"
#include "integrations/signing.h"
#include "workflows/feedback.h"

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

// A paging cursor as sent, and the input made into one (so the fields behind the base64 are
// reached): whatever decodes is within what the database takes, and encodes back to itself.
void Cursors(const std::string& in) {
  std::string made = integrations::Base64Encode(in);
  for (auto& c : made) c = c == '+' ? '-' : c == '/' ? '_' : c;
  for (const std::string& c : {in, made}) {
    try {
      const int64_t id = api::cursor::DecodeThreads(c);
      Check(id > 0 && api::cursor::DecodeThreads(api::cursor::EncodeThreads(id)) == id);
    } catch (const api::ApiError& e) {
      Check(e.status() == 400);
    }
    try {
      const auto k = api::cursor::DecodeEscalations(c);
      Check(k.thread_id > 0 && k.priority >= -32768 && k.priority <= 32767);
      Check(k.escalated_at >= kMinTimestamp && k.escalated_at <= kMaxTimestamp);
      const auto back = api::cursor::DecodeEscalations(api::cursor::EncodeEscalations(k));
      Check(back.priority == k.priority && back.escalated_at == k.escalated_at &&
            back.thread_id == k.thread_id);
    } catch (const api::ApiError& e) {
      Check(e.status() == 400);
    }
  }
}

// The HTTP framing: a request it finds lies within the input, is found the same in exactly its
// own bytes, and a refusal is one of the statuses the server answers with.
void Framing(const std::string& in) {
  const http::FramingLimits limits{.max_header_bytes = 2048, .max_body_bytes = 4096};
  const auto f = http::NextRequest(in, limits);
  using Kind = http::Frame::Kind;
  if (f.kind == Kind::kRequest) {
    Check(f.length > 0 && f.skip + f.length <= in.size());
    const auto again = http::NextRequest(in.substr(0, f.skip + f.length), limits);
    Check(again.kind == Kind::kRequest && again.length == f.length);
  } else if (f.kind == Kind::kRefused) {
    Check(!f.code.empty() && !f.message.empty());
    for (int ok : {400, 411, 413, 414, 431, 501, 505})
      if (f.status == ok) return;
    Check(false);
  }
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
  // Existing corpus files keep their parser: new parsers take the next values of the first byte.
  switch (data[0] % 13) {
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
      // Whatever parses as a time is within range and formats (both ways) to text that parses
      // back to the same instant.
      const auto t = ParseTimestamp(in);
      if (t) {
        Check(*t >= kMinTimestamp && *t <= kMaxTimestamp);
        Check(ParseTimestamp(FormatIso8601(*t)) == t && ParseTimestamp(FormatTimestamp(*t)) == t);
      }
      return;
    }
    case 9:
      return Cursors(in);
    case 10:
      return Framing(in);
    case 11: {
      const auto v = ParseInt64(in);
      if (v) Check(ParseInt64(std::to_string(*v)) == v);
      return;
    }
    case 12:
      return Body([&] {
        // A correction is never empty, never with "helpful": true, never over its bound.
        const auto f = api::dto::ParseFeedback(in);
        if (f.correction)
          Check(!f.helpful && !f.correction->empty() &&
                Utf8Length(*f.correction) <= workflows::kMaxCorrectionChars);
      });
  }
}

}  // namespace clubos::fuzz
