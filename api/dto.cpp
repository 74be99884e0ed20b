#include "api/dto.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "core/text.h"
#include "core/time_format.h"
#include "workflows/feedback.h"
#include "workflows/knowledge.h"

namespace clubos::api::dto {
namespace {

using nlohmann::json;

// Bounds on what a body may carry; the domain checks finer rules (E.164, a text's length in
// characters, which only the domain measures so that one limit answers with one status).
constexpr std::size_t kMaxShortField = 200;
constexpr std::size_t kMaxTextField = 4000;
// A message's text is bounded by the request's size (413) and then by the domain in characters
// (422): no byte limit here, which would answer the same over-long text with a third status.
constexpr std::size_t kMaxMessageBytes = std::numeric_limits<std::size_t>::max();

// Deeper than any body of the API needs. nlohmann parses iteratively but serialises recursively:
// a target nested 13,000 levels deep overflowed the stack in dump() (found by the fuzzer; kept
// as tests/fuzz/corpus/crash-deep-target-stack-overflow).
constexpr int kMaxDepth = 32;

bool NestedDeeperThan(const std::string& text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

json Object(const std::string& body) {
  if (NestedDeeperThan(body, kMaxDepth))
    throw BadRequest("the body is nested deeper than " + std::to_string(kMaxDepth) + " levels");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw BadRequest("the body is not valid JSON");
  if (!j.is_object()) throw BadRequest("the body must be a JSON object");
  return j;
}

std::optional<int64_t> Integer(const json& j, const char* key, int64_t min, int64_t max) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  // nlohmann keeps what it parsed: a signed or an unsigned 64-bit integer, or a double (2.0,
  // 1e3, and any integer beyond uint64). Only the first two are whole numbers here.
  if (!it->is_number_integer())
    throw BadRequest(std::string(key) + " must be a whole number within " + range);
  const bool fits = it->is_number_unsigned()
                        ? max >= 0 && it->get<uint64_t>() <= static_cast<uint64_t>(max) &&
                              static_cast<int64_t>(it->get<uint64_t>()) >= min
                        : it->get<int64_t>() >= min && it->get<int64_t>() <= max;
  if (!fits) throw BadRequest(std::string(key) + " is out of range: it must be within " + range);
  return it->is_number_unsigned() ? static_cast<int64_t>(it->get<uint64_t>()) : it->get<int64_t>();
}

namespace {

const json* Field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string RequiredString(const json& j, const char* key, std::size_t max_bytes,
                           bool allow_empty = false) {
  const json* f = Field(j, key);
  if (!f) throw BadRequest(std::string(key) + " is required");
  if (!f->is_string()) throw BadRequest(std::string(key) + " must be a string");
  std::string s = f->get<std::string>();
  if (!allow_empty && s.empty()) throw BadRequest(std::string(key) + " must not be empty");
  if (s.size() > max_bytes)
    throw BadRequest(std::string(key) + " is longer than " + std::to_string(max_bytes) + " bytes");
  return s;
}

std::optional<std::string> OptionalString(const json& j, const char* key, std::size_t max_bytes) {
  if (!Field(j, key)) return std::nullopt;
  return RequiredString(j, key, max_bytes, true);
}

bool RequiredBool(const json& j, const char* key) {
  const json* f = Field(j, key);
  if (!f) throw BadRequest(std::string(key) + " is required");
  if (!f->is_boolean()) throw BadRequest(std::string(key) + " must be true or false");
  return f->get<bool>();
}

std::optional<int64_t> OptionalId(const json& j, const char* key) {
  return Integer(j, key, 1, INT64_MAX);
}

std::optional<TimePoint> OptionalTime(const json& j, const char* key) {
  const auto s = OptionalString(j, key, 64);
  if (!s) return std::nullopt;
  auto t = ParseTimestamp(*s);
  if (!t)
    throw BadRequest(std::string(key) + " must be an ISO 8601 time, e.g. 2026-01-31T08:00:00Z");
  return t;
}

// A body with a field not in `known` is refused, naming the ones it may have.
void OnlyFields(const json& j, std::initializer_list<std::string_view> known) {
  std::string names;
  for (const auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
  for (const auto& [key, value] : j.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw BadRequest("unknown field " + key + " (" + names + ")");
}

}  // namespace

workflows::InboundMessage ParseMessage(const std::string& body) {
  const json j = Object(body);
  workflows::InboundMessage m;
  m.from = RequiredString(j, "from", 32);
  m.to = RequiredString(j, "to", 32);
  m.body = RequiredString(j, "body", kMaxMessageBytes);
  m.external_id = OptionalString(j, "external_id", kMaxShortField).value_or("");
  return m;
}

workflows::ActionRequest ParseAction(const std::string& body) {
  const json j = Object(body);
  workflows::ActionRequest a;
  a.kind = RequiredString(j, "kind", 64);
  const json* target = Field(j, "target");
  if (!target) throw BadRequest("target is required");
  if (!target->is_object()) throw BadRequest("target must be an object");
  // The bay is an int downstream: a bay beyond int's range must not wrap onto a real bay
  // (4294967298 reset bay 2, defect L2).
  Integer(*target, "bay", INT32_MIN, INT32_MAX);
  a.target = target->dump();
  if (a.target.size() > 4096) throw BadRequest("target is longer than 4096 bytes");
  a.reason = RequiredString(j, "reason", kMaxShortField);
  a.booking_id = OptionalString(j, "booking_id", kMaxShortField);
  a.thread_id = OptionalId(j, "thread_id");
  a.text = OptionalString(j, "text", kMaxTextField).value_or("");
  if (const json* o = Field(j, "human_override")) {
    if (!o->is_boolean()) throw BadRequest("human_override must be true or false");
    a.human_override = o->get<bool>();
  }
  a.stop_override = OptionalString(j, "override_stop", kMaxShortField).value_or("");
  if (Field(j, "override_stop") && a.stop_override.empty())
    throw BadRequest("override_stop must say why");
  return a;
}

Resolution ParseResolve(const std::string& body) {
  const json j = Object(body);
  Resolution r{RequiredString(j, "resolution", kMaxShortField),
               OptionalString(j, "note", kMaxTextField).value_or("")};
  if (Field(j, "take_over")) r.take_over = RequiredBool(j, "take_over");
  return r;
}

bool ParseClaim(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return false;
  const json j = Object(body);
  return Field(j, "take_over") ? RequiredBool(j, "take_over") : false;
}

std::string ParseFlagRollback(const std::string& body) {
  return RequiredString(Object(body), "reason", kMaxTextField);
}

FeedbackBody ParseFeedback(const std::string& body) {
  const json j = Object(body);
  OnlyFields(j, {"helpful", "correction"});
  FeedbackBody f;
  f.helpful = RequiredBool(j, "helpful");
  f.correction = OptionalString(j, "correction", kMaxTextField * 4);
  if (!f.correction) return f;
  if (f.helpful) throw BadRequest("a correction goes with \"helpful\": false only");
  if (!IsValidText(*f.correction))
    throw BadRequest("correction must be UTF-8 text without NUL characters");
  if (f.correction->find_first_not_of(" \t\r\n") == std::string::npos)
    throw BadRequest("correction must say what the answer should have been (or be left out)");
  if (Utf8Length(*f.correction) > workflows::kMaxCorrectionChars)
    throw BadRequest("correction is longer than " + std::to_string(workflows::kMaxCorrectionChars) +
                     " characters");
  return f;
}

KnowledgeProposalBody ParseKnowledgeProposal(const std::string& body) {
  const json j = Object(body);
  OnlyFields(j, {"content", "reasoning", "base_version", "case_ids"});
  KnowledgeProposalBody out;
  out.content = RequiredString(j, "content", workflows::kMaxKnowledgeFileBytes);
  out.reasoning = RequiredString(j, "reasoning", kMaxTextField * 4);
  if (const auto v = Integer(j, "base_version", 1, INT32_MAX))
    out.base_version = static_cast<int>(*v);
  if (const json* ids = Field(j, "case_ids")) {
    if (!ids->is_array() || ids->size() > 500)
      throw BadRequest("case_ids must be a list of at most 500 case ids");
    for (const auto& id : *ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 1)
        throw BadRequest("case_ids must be whole numbers of 1 or more");
      out.case_ids.push_back(id.get<int64_t>());
    }
  }
  return out;
}

KnowledgeRestoreBody ParseKnowledgeRestore(const std::string& body) {
  const json j = Object(body);
  OnlyFields(j, {"version", "note"});
  const auto v = Integer(j, "version", 1, INT32_MAX);
  if (!v) throw BadRequest("version is required");
  return {static_cast<int>(*v), OptionalString(j, "note", 1000).value_or("")};
}

std::string ParseNote(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return "";
  const json j = Object(body);
  OnlyFields(j, {"note"});
  return OptionalString(j, "note", 1000).value_or("");
}

void ParseEmptyOrObject(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return;
  Object(body);
}

workflows::AgentHeartbeat ParseHeartbeat(const std::string& body, TimePoint now) {
  const json j = Object(body);
  workflows::AgentHeartbeat hb;
  hb.tps_version = RequiredString(j, "tps_version", 64, true);
  hb.tps_running = RequiredBool(j, "tps_running");
  hb.radar_reachable = RequiredBool(j, "radar_reachable");
  auto past = [&](const char* key) {
    const auto t = OptionalTime(j, key);
    if (t && *t > now + workflows::kMaxAgentClockSkew)
      throw BadRequest(std::string(key) + " is in the future: more than " +
                       std::to_string(workflows::kMaxAgentClockSkew.count()) +
                       " s ahead of the server's clock (is the bay PC's clock set?)");
    return t;
  };
  hb.tps_started_at = past("tps_started_at");
  hb.booted_at = past("booted_at");
  return hb;
}

Report ParseReport(const std::string& body) {
  const json j = Object(body);
  Report r;
  const auto id = OptionalId(j, "command_id");
  if (!id) throw BadRequest("command_id is required");
  r.command_id = *id;
  r.success = RequiredBool(j, "success");
  r.message = OptionalString(j, "message", kMaxTextField).value_or("");
  return r;
}

}  // namespace clubos::api::dto
