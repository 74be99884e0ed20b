#pragma once
// The seam between routing and a language model: one completion that must answer in a JSON
// schema. integrations/llm.h speaks OpenAI Chat Completions behind it; the answer is only ever an
// intent for the policy to judge (workflows/llm_router.h), never an action.
#include <cstdint>
#include <string>

#include "core/clock.h"

namespace clubos::workflows {

struct ModelRequest {
  std::string model;
  std::string system;  // the instructions and the facility's knowledge
  std::string user;    // the customer's texts, quoted as data
  int max_tokens = 500;
  std::string schema_name;  // [a-zA-Z0-9_-], at most 64
  std::string schema;       // JSON Schema of the answer (strict: every property required)
};

struct ModelAnswer {
  enum class Result {
    kOk,           // content holds the answer (not yet checked against the schema)
    kTimeout,      // no answer within the deadline (retried once if time allowed)
    kUnavailable,  // the endpoint broke (5xx, connection refused) even after the retry
    kRateLimited,  // 429 rate limit, and its Retry-After did not fit the deadline
    kQuota,        // 429 insufficient_quota: out of money, not busy; never retried
    kRefused,      // the model refused (message.refusal) or its output was filtered
    kMalformed,    // an answer that is not a chat completion, or was cut off (length)
    kRejected,     // the endpoint refused the request: 400, 401, 403, 404
  };
  Result result = Result::kUnavailable;
  std::string content;
  int64_t tokens_in = 0;  // usage.prompt_tokens over every attempt that reported it
  int64_t tokens_out = 0;
  int attempts = 0;
  long status = 0;  // the last HTTP status (0: none arrived)
  std::string request_id;
  std::string detail;  // what went wrong, for the audit row (never the key)
  Millis latency{0};
};
const char* ToString(ModelAnswer::Result r);

class Model {
 public:
  virtual ~Model() = default;
  // Blocking; returns by `deadline` at the latest (attempts and Retry-After waits included).
  virtual ModelAnswer Complete(const ModelRequest& request,
                               std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace clubos::workflows
