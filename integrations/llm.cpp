#include "integrations/llm.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/log.h"
#include "integrations/http.h"

namespace clubos::integrations {
namespace {

using nlohmann::json;
using Result = workflows::ModelAnswer::Result;
using Steady = std::chrono::steady_clock;

// The longest Retry-After ClubOS waits out inside one routing (gateways cap theirs at 60 s; a
// customer should not wait that long for a first answer: past this the text goes to a human).
constexpr Millis kMaxRetryAfter{5'000};

// retry-after-ms first (OpenAI's precise one), then Retry-After in seconds.
std::optional<Millis> RetryAfter(const HttpResponse& r) {
  const auto ms = r.headers.find("retry-after-ms");
  if (ms != r.headers.end()) {
    char* end = nullptr;
    const double v = std::strtod(ms->second.c_str(), &end);
    if (end != ms->second.c_str() && *end == '\0' && v >= 0) return Millis(static_cast<int64_t>(v));
  }
  return r.RetryAfter();
}

// One attempt's verdict, and whether another attempt could change it.
struct Attempt {
  Result result;
  bool retryable;
  std::optional<Millis> wait;
  std::string detail;
  std::string content;
};

Attempt Judge(const HttpResponse& r, workflows::ModelAnswer& out) {
  if (r.transport == HttpResponse::Transport::kNotSent)
    return {Result::kUnavailable, true, std::nullopt, "not reached: " + r.error, ""};
  if (r.transport == HttpResponse::Transport::kUnknown)
    return {Result::kTimeout, true, std::nullopt, r.error, ""};
  out.status = r.status;
  if (auto id = r.headers.find("x-request-id"); id != r.headers.end()) out.request_id = id->second;
  const json body = json::parse(r.body, nullptr, false);
  std::string code, message;
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const json& e = body["error"];
    for (const char* k : {"code", "type"})
      if (code.empty() && e.contains(k) && e[k].is_string()) code = e[k].get<std::string>();
    if (e.contains("message") && e["message"].is_string())
      message = e["message"].get<std::string>().substr(0, 200);
  }
  const std::string said = "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                           (message.empty() ? "" : ": " + message);
  if (r.status == 429) {
    const bool quota = code == "insufficient_quota" ||
                       code.find("spend_limit") != std::string::npos ||
                       code.find("credit_balance") != std::string::npos ||
                       code.find("usage_limit") != std::string::npos || code == "budget_exceeded";
    if (quota) return {Result::kQuota, false, std::nullopt, said, ""};
    return {Result::kRateLimited, true, RetryAfter(r), said, ""};
  }
  if (r.status >= 500 || r.status == 408 || r.status == 409)
    return {Result::kUnavailable, true, RetryAfter(r), said, ""};
  if (r.status != 200) return {Result::kRejected, false, std::nullopt, said, ""};
  // 200: a chat completion, or it is not an answer at all.
  if (!body.is_object() || !body.contains("choices") || !body["choices"].is_array() ||
      body["choices"].empty() || !body["choices"][0].is_object())
    return {Result::kMalformed, false, std::nullopt, "the answer is not a chat completion", ""};
  if (body.contains("usage") && body["usage"].is_object()) {
    const json& u = body["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
      out.tokens_in += std::max<int64_t>(0, u["prompt_tokens"].get<int64_t>());
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      out.tokens_out += std::max<int64_t>(0, u["completion_tokens"].get<int64_t>());
  }
  const json& choice = body["choices"][0];
  const std::string finish = choice.value("finish_reason", json()).is_string()
                                 ? choice["finish_reason"].get<std::string>()
                                 : "";
  const json message_j = choice.value("message", json::object());
  if (message_j.contains("refusal") && message_j["refusal"].is_string())
    return {Result::kRefused, false, std::nullopt,
            "refused: " + message_j["refusal"].get<std::string>().substr(0, 200), ""};
  if (finish == "content_filter")
    return {Result::kRefused, false, std::nullopt, "the output was filtered", ""};
  if (finish == "length")
    return {Result::kMalformed, false, std::nullopt, "cut off at max_tokens", ""};
  if (!message_j.contains("content") || !message_j["content"].is_string())
    return {Result::kMalformed, false, std::nullopt, "the answer has no content", ""};
  return {Result::kOk, false, std::nullopt, "", message_j["content"].get<std::string>()};
}

}  // namespace

LlmClient::LlmClient(const Integrations::Llm& config) : config_(config) {
  if (const char* k = std::getenv(config.api_key_env.c_str())) key_ = k;
}

workflows::ModelAnswer LlmClient::Complete(const workflows::ModelRequest& req,
                                           Steady::time_point deadline) {
  workflows::ModelAnswer out;
  const json body = {
      {"model", req.model},
      {"messages",
       {{{"role", "system"}, {"content", req.system}}, {{"role", "user"}, {"content", req.user}}}},
      {"temperature", 0},
      {"max_tokens", req.max_tokens},
      {"response_format",
       {{"type", "json_schema"},
        {"json_schema",
         {{"name", req.schema_name}, {"strict", true}, {"schema", json::parse(req.schema)}}}}}};
  HttpRequest http{.method = "POST",
                   .url = config_.base_url + "/v1/chat/completions",
                   .headers = {{"Content-Type", "application/json"}},
                   .body = body.dump()};
  // Ollama and local servers ignore the key; an endpoint that needs one answers 401 without it.
  if (!key_.empty()) http.headers["Authorization"] = "Bearer " + key_;
  const auto started = Steady::now();
  // At most two attempts: the router is the only retry loop above this one (the route job is not
  // retried for a model's failure; the text goes to a human).
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Steady::now());
    if (left <= Millis(0)) {
      if (out.attempts == 0) out.detail = "no time left before the routing deadline";
      if (out.attempts == 0) out.result = Result::kTimeout;
      break;
    }
    http.timeout = std::min(config_.call_timeout, left);
    http.connect_timeout = std::min(Millis(3'000), http.timeout);
    ++out.attempts;
    const HttpResponse r = Send(http);
    const Attempt a = Judge(r, out);
    out.result = a.result;
    out.detail = a.detail;
    out.content = a.content;
    if (!a.retryable || attempt == 2) break;
    const Millis wait = a.wait.value_or(Millis(0));
    if (wait > kMaxRetryAfter || Steady::now() + wait + Millis(50) >= deadline) {
      out.detail += " (no room for a retry" +
                    (wait > Millis(0) ? " after Retry-After " + std::to_string(wait.count()) + " ms"
                                      : std::string()) +
                    ")";
      break;
    }
    log::Get()->warn("llm: {} ({}), attempt {} of 2; retrying in {} ms", ToString(a.result),
                     a.detail, attempt, wait.count());
    if (wait > Millis(0)) std::this_thread::sleep_for(wait);
  }
  out.latency = std::chrono::duration_cast<Millis>(Steady::now() - started);
  return out;
}

}  // namespace clubos::integrations
