// An OpenAI-compatible chat completions endpoint (shared/reference/original-llm-console-scale.md
// §2.1) as the simulator speaks it: POST /v1/chat/completions with a bearer key, answered by the
// rule-based model of sim/llm_model.h, with OpenAI's error bodies and headers, and its settings
// under /_sim/llm.
//
// Not a VendorRoute: every answer carries x-request-id (fault answers too), the model's latency
// is waited as a slow fault is, and two faults (malformed, refusal) shape a 200 answer after the
// key and the request were checked, so the call log must hear about them from the handler.
#include <set>
#include <thread>

#include "core/log.h"
#include "core/text.h"
#include "integrations/signing.h"
#include "sim/core.h"

namespace clubos::sim::detail {
namespace {

const char* const kRefusal = "I'm sorry, I can't help with that.";
const char* const kReviewSchemaName = "knowledge_review";

// OpenAI's error body: {"error": {message, type, param, code}}.
http::Response OpenAiError(int status, const std::string& message, const std::string& type,
                           json param = nullptr, json code = nullptr) {
  return http::Response::Json(status, Dump({{"error",
                                             {{"message", message},
                                              {"type", type},
                                              {"param", std::move(param)},
                                              {"code", std::move(code)}}}}));
}

http::Response Invalid(const std::string& message, json param = nullptr, json code = nullptr) {
  return OpenAiError(400, message, "invalid_request_error", std::move(param), std::move(code));
}

std::optional<http::Response> CheckKey(Core& core, const http::Request& req) {
  if (!req.Header("authorization"))
    return OpenAiError(401,
                       "You didn't provide an API key. You need to provide your API key in an "
                       "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                       "YOUR_KEY).",
                       "invalid_request_error");
  // An unset key matches nothing: the simulator then refuses every key, as for the other vendors.
  const auto key = Bearer(req);
  if (core.secrets.llm_api_key.empty() || !key ||
      !integrations::ConstantTimeEqual(*key, core.secrets.llm_api_key))
    return OpenAiError(401, "Incorrect API key provided", "invalid_request_error", nullptr,
                       "invalid_api_key");
  return std::nullopt;
}

// What the model needs from a valid request.
struct Prompt {
  std::string model;
  std::string text;         // the last user message's: the customer's texts
  std::string schema_name;  // response_format.json_schema.name, when given
  std::vector<std::string> topics;
  int64_t prompt_tokens = 0;
  std::optional<int64_t> max_tokens;
};

// Parameters OpenAI accepts that the simulator takes and ignores (an unknown one is a 400, as
// OpenAI answers "Unrecognized request argument supplied").
const std::set<std::string>& IgnoredParams() {
  static const std::set<std::string> params = {
      "frequency_penalty", "logit_bias",    "logprobs",     "metadata", "parallel_tool_calls",
      "presence_penalty",  "seed",          "service_tier", "stop",     "store",
      "tool_choice",       "tools",         "top_logprobs", "top_p",    "user",
      "reasoning_effort",  "stream_options"};
  return params;
}

std::string TypeName(const json& v) {
  if (v.is_string()) return "a string";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a decimal";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

http::Response InvalidType(const std::string& param, const std::string& expected, const json& v) {
  return Invalid("Invalid type for '" + param + "': expected " + expected + ", but got " +
                     TypeName(v) + " instead.",
                 param, "invalid_type");
}

// A message's text: a string, or text parts ([{type: "text", text}]) joined.
std::optional<http::Response> ContentText(const json& content, const std::string& param,
                                          std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return InvalidType(param, "a string or an array of parts", content);
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& part = content.at(i);
    const std::string where = param + "[" + std::to_string(i) + "]";
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
        !part.at("text").is_string())
      return Invalid("Invalid '" + where +
                         "': the simulator reads text parts only ({\"type\": \"text\", \"text\"})",
                     where, "invalid_value");
    out += part.at("text").get<std::string>();
  }
  return std::nullopt;
}

std::optional<http::Response> ReadMessages(const json& body, Prompt& p) {
  if (!body.contains("messages"))
    return Invalid("Missing required parameter: 'messages'.", "messages",
                   "missing_required_parameter");
  const json& messages = body.at("messages");
  if (!messages.is_array()) return InvalidType("messages", "an array", messages);
  if (messages.empty())
    return Invalid(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        "messages", "empty_array");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages.at(i);
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return InvalidType(where, "an object", m);
    if (!m.contains("role"))
      return Invalid("Missing required parameter: '" + where + ".role'.", where + ".role",
                     "missing_required_parameter");
    const json& role = m.at("role");
    static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant",
                                                 "tool"};
    if (!role.is_string() || !kRoles.count(role.get<std::string>()))
      return Invalid("Invalid value: '" + (role.is_string() ? role.get<std::string>() : "?") +
                         "'. Supported values are: 'system', 'developer', 'user', 'assistant' "
                         "and 'tool'.",
                     where + ".role", "invalid_value");
    const std::string r = role.get<std::string>();
    std::string text;
    // An assistant turn may carry tool calls instead of content.
    const bool optional = r == "assistant";
    if (!m.contains("content") || m.at("content").is_null()) {
      if (!optional)
        return Invalid("Missing required parameter: '" + where + ".content'.", where + ".content",
                       "missing_required_parameter");
    } else if (auto bad = ContentText(m.at("content"), where + ".content", text)) {
      return bad;
    }
    p.prompt_tokens += LlmTokens(text.size()) + 4;
    if (r == "user") p.text = text;
    if (r == "system" || r == "developer")
      for (auto& t : FaqTopics(text)) p.topics.push_back(std::move(t));
  }
  return std::nullopt;
}

// nullopt with `p` filled when the body is a request the simulator can answer; else its 400.
std::optional<http::Response> ReadRequest(const json& body, Prompt& p) {
  if (body.is_discarded())
    return Invalid(
        "We could not parse the JSON body of your request. The OpenAI API expects a JSON "
        "payload.");
  for (const auto& [key, value] : body.items()) {
    static const std::set<std::string> kRead = {
        "model",       "messages",        "max_tokens", "max_completion_tokens",
        "temperature", "response_format", "n",          "stream"};
    if (!kRead.count(key) && !IgnoredParams().count(key))
      return Invalid("Unrecognized request argument supplied: " + key);
  }
  if (!body.contains("model")) return Invalid("You must provide a model parameter.");
  if (!body.at("model").is_string() || body.at("model").get<std::string>().empty())
    return InvalidType("model", "a non-empty string", body.at("model"));
  p.model = body.at("model").get<std::string>();
  if (auto bad = ReadMessages(body, p)) return bad;
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!body.contains(key)) continue;
    const json& v = body.at(key);
    if (!v.is_number_integer()) return InvalidType(key, "an integer", v);
    if (v.get<int64_t>() < 1)
      return Invalid("Invalid '" + std::string(key) +
                         "': integer below minimum value. Expected a value >= 1, but got " +
                         std::to_string(v.get<int64_t>()) + " instead.",
                     key, "integer_below_min_value");
    p.max_tokens = std::min(p.max_tokens.value_or(v.get<int64_t>()), v.get<int64_t>());
  }
  if (body.contains("temperature")) {
    const json& t = body.at("temperature");
    if (!t.is_number()) return InvalidType("temperature", "a decimal", t);
    if (t.get<double>() < 0 || t.get<double>() > 2)
      return Invalid("Invalid 'temperature': expected a value from 0 to 2.", "temperature",
                     t.get<double>() < 0 ? "decimal_below_min_value" : "decimal_above_max_value");
  }
  if (body.contains("response_format")) {
    const json& f = body.at("response_format");
    if (!f.is_object()) return InvalidType("response_format", "an object", f);
    const json type = f.value("type", json());
    if (type != "text" && type != "json_object" && type != "json_schema")
      return Invalid(
          "Invalid 'response_format.type': supported values are 'text', 'json_object' and "
          "'json_schema'.",
          "response_format.type", "invalid_value");
    if (type == "json_schema") {
      if (!f.contains("json_schema") || !f.at("json_schema").is_object())
        return Invalid("Missing required parameter: 'response_format.json_schema'.",
                       "response_format.json_schema", "missing_required_parameter");
      const json name = f.at("json_schema").value("name", json());
      const bool good = name.is_string() && !name.get<std::string>().empty() &&
                        name.get<std::string>().size() <= 64 &&
                        name.get<std::string>().find_first_not_of(
                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                            std::string::npos;
      if (!good)
        return Invalid(
            "Invalid 'response_format.json_schema.name': 1 to 64 of a-z, A-Z, 0-9, _ and -.",
            "response_format.json_schema.name", "invalid_value");
      p.schema_name = name.get<std::string>();
    }
  }
  if (body.contains("n") && body.at("n") != 1)
    return Invalid("The simulator answers one choice: n must be 1.", "n", "invalid_value");
  if (body.contains("stream") && body.at("stream") != false)
    return Invalid("The simulator does not stream: stream must be false.", "stream",
                   "invalid_value");
  return std::nullopt;
}

// The completion for a request the key and the checks let through (mu held).
http::Response Complete(Core& core, const Prompt& p, int64_t n, Call& call) {
  const auto fault = core.TakeAnswer(Service::kLlm, p.model);
  json content = nullptr, refusal = nullptr;
  std::string finish = "stop";
  int64_t completion_tokens = 0;
  // The knowledge reviewer's schema gets the reviewer model; everything else is routing.
  const bool review = p.schema_name == kReviewSchemaName;
  const std::string answer =
      review ? ReviewAnswer(p.text) : LlmAnswer(core.llm.Rules(), p.text, p.topics);
  if (fault == FaultMode::kRefusal) {
    refusal = kRefusal;
    completion_tokens = LlmTokens(std::string(kRefusal).size());
  } else {
    // Well-formed JSON, the wrong shape: what a model that ignored the schema answers.
    std::string text = fault == FaultMode::kOffSchema
                           ? std::string(R"({"answer": "I have reviewed everything.", "ok": true})")
                           : answer;
    // Cut as a model stops at its token limit: mid-JSON, so the content no longer parses.
    if (p.max_tokens && *p.max_tokens < LlmTokens(text.size())) {
      text = CutUtf8(text, static_cast<std::size_t>(*p.max_tokens) * 4);
      finish = "length";
    }
    completion_tokens = LlmTokens(text.size());
    content = std::move(text);
  }
  json choice = {{"index", 0},
                 {"finish_reason", finish},
                 {"message", {{"role", "assistant"}, {"content", content}, {"refusal", refusal}}}};
  const std::string id = "chatcmpl-sim-" + std::to_string(n);
  std::string body = Dump({{"id", id},
                           {"object", "chat.completion"},
                           {"created", EpochMillis(core.clock.Now()) / 1000},
                           {"model", p.model},
                           {"choices", json::array({std::move(choice)})},
                           {"usage",
                            {{"prompt_tokens", p.prompt_tokens},
                             {"completion_tokens", completion_tokens},
                             {"total_tokens", p.prompt_tokens + completion_tokens}}}});
  // A proxy that dropped the connection half way, or a body the client cannot parse.
  if (fault == FaultMode::kMalformed) body.resize(body.size() / 2);
  if (fault) call.fault = ToString(*fault);
  const json intent = review ? json() : json::parse(answer, nullptr, false);
  log::Get()->info("sim llm: {} for {}: {}/{}, finish {}{}", id, p.model,
                   review               ? "review"
                   : intent.is_object() ? intent.value("category", "?")
                                        : "(rule content)",
                   intent.is_object() ? intent.value("action", "?") : "-", finish,
                   fault ? std::string(" (fault ") + ToString(*fault) + ")" : "");
  return http::Response::Json(200, std::move(body));
}

http::Response Completion(Core& core, const http::Request& req) {
  Call call;
  call.at = core.clock.Now();
  call.service = Service::kLlm;
  call.method = req.method;
  call.path = req.path;
  call.query = req.query;
  call.body = req.body;
  // Parsed outside the lock: a large prompt holds up no one else.
  const json body = ParseObject(req.body);
  Prompt prompt;
  const auto refused = ReadRequest(body, prompt);
  call.target = prompt.model;  // faults on llm:<model> match it; "" when the request has none
  int64_t n = 0;
  Millis slow{0}, wait{0};
  std::optional<Fault> failure;
  {
    std::lock_guard lock(core.mu);
    n = ++core.llm.calls;
    slow = core.TakeSlow(Service::kLlm, call.target);
    failure = core.TakeFailure(Service::kLlm, call.target, false);
    wait = core.llm.latency + slow;
  }
  // Outside the lock: a slow model delays its own caller, not everyone else.
  if (wait.count() > 0) std::this_thread::sleep_for(wait);
  std::lock_guard lock(core.mu);
  http::Response res;
  if (failure) {
    res = LlmFaultAnswer(*failure);
    call.fault = ToString(failure->mode);
  } else if (auto no = CheckKey(core, req)) {
    res = std::move(*no);
  } else if (refused) {
    res = *refused;
  } else {
    res = Complete(core, prompt, n, call);
  }
  if (call.fault.empty() && slow.count() > 0) call.fault = ToString(FaultMode::kSlow);
  res.headers.emplace_back("x-request-id", "req_sim_" + std::to_string(n));
  call.status = res.status;
  core.Record(std::move(call));
  return res;
}

json SettingsJson(const Core& core) {
  json rules = json::array();
  for (const auto& r : core.llm.Rules()) rules.push_back(LlmRuleJson(r));
  return {{"latency_ms", core.llm.latency.count()},
          {"calls", core.llm.calls},
          {"builtin_rules", !core.llm.rules.has_value()},
          {"rules", rules},
          {"fallback", FallbackIntent()}};
}

http::Response PutSettings(Core& core, const http::Request& req) {
  auto bad = [](const std::string& m) { return http::Response::Error(400, "invalid_input", m); };
  const json body = ParseObject(req.body);
  if (body.is_discarded()) return bad("body is not a JSON object");
  for (const auto& [key, value] : body.items())
    if (key != "latency_ms" && key != "rules")
      return bad("unknown key '" + key + "': latency_ms or rules");
  std::optional<Millis> latency;
  if (body.contains("latency_ms")) {
    const json& v = body.at("latency_ms");
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxLlmLatencyMs)
      return bad("latency_ms must be a whole number, 0 to " + std::to_string(kMaxLlmLatencyMs));
    latency = Millis(v.get<int64_t>());
  }
  std::optional<std::optional<std::vector<LlmRule>>> rules;  // outer: given; inner: null
  if (body.contains("rules")) {
    const json& list = body.at("rules");
    if (list.is_null()) {
      rules.emplace(std::nullopt);
    } else {
      if (!list.is_array() || list.size() > kMaxLlmRules)
        return bad("rules must be a list of at most " + std::to_string(kMaxLlmRules) +
                   " rules, or null for the built-in ones");
      std::vector<LlmRule> parsed;
      for (std::size_t i = 0; i < list.size(); ++i) {
        std::string error;
        auto rule = ParseLlmRule(list.at(i), error);
        if (!rule) return bad("rules[" + std::to_string(i) + "]: " + error);
        parsed.push_back(std::move(*rule));
      }
      rules.emplace(std::move(parsed));
    }
  }
  std::lock_guard lock(core.mu);
  if (latency) core.llm.latency = *latency;
  if (rules) core.llm.rules = std::move(*rules);
  log::Get()->info("sim llm: latency {} ms, {} rules{}", core.llm.latency.count(),
                   core.llm.Rules().size(), core.llm.rules ? "" : " (built-in)");
  return http::Response::Json(200, Dump(SettingsJson(core)));
}

}  // namespace

http::Response LlmFaultAnswer(const Fault& f) {
  switch (f.mode) {
    case FaultMode::kHttp429: {
      const int64_t ms = f.retry_after.count();
      http::Response r =
          OpenAiError(429,
                      "Rate limit reached for requests (simulated). Please try again in " +
                          std::to_string(ms) + "ms.",
                      "requests", nullptr, "rate_limit_exceeded");
      r.headers.emplace_back("Retry-After", std::to_string((ms + 999) / 1000));
      r.headers.emplace_back("retry-after-ms", std::to_string(ms));
      return r;
    }
    case FaultMode::kInsufficientQuota:
      // No Retry-After: waiting does not bring the quota back, and clients must not retry.
      return OpenAiError(429,
                         "You exceeded your current quota, please check your plan and billing "
                         "details. (simulated)",
                         "insufficient_quota", nullptr, "insufficient_quota");
    case FaultMode::kHttp403:
      return OpenAiError(403, "Country, region, or territory not supported (simulated)",
                         "request_forbidden", nullptr, "unsupported_country_region_territory");
    default:
      return OpenAiError(500,
                         "The server had an error while processing your request. Sorry about "
                         "that! (simulated)",
                         "server_error");
  }
}

void RegisterLlm(http::Server& server, Core& core) {
  server.Route("POST", "/v1/chat/completions",
               [&core](const http::Request& req) { return Completion(core, req); });
  server.Route("GET", "/_sim/llm", [&core](const http::Request&) {
    std::lock_guard lock(core.mu);
    return http::Response::Json(200, Dump(SettingsJson(core)));
  });
  server.Route("PUT", "/_sim/llm",
               [&core](const http::Request& req) { return PutSettings(core, req); });
}

}  // namespace clubos::sim::detail
