#pragma once
// OperatorGPT's client: any endpoint that speaks OpenAI Chat Completions (OpenAI, a gateway such
// as LiteLLM or Portkey, vLLM, llama.cpp server, Ollama), over libcurl. Structured Outputs
// (`response_format: json_schema, strict: true`), no tools: the model proposes an intent, the
// policy decides. Error rules as shared/reference/original-llm-console-scale.md §2.1 gives them:
// 5xx, 408, 409 and timeouts are retried once within the deadline; 429 rate limits once, after
// `retry-after-ms` / `Retry-After` if that fits; 429 insufficient_quota never (out of money, not
// busy); other 4xx never. A refusal, a cut-off or a malformed answer is a failure, not a guess.
#include <string>

#include "core/config.h"
#include "workflows/model.h"

namespace clubos::integrations {

class LlmClient final : public workflows::Model {
 public:
  // The key is read from the environment variable the config names (never logged).
  explicit LlmClient(const Integrations::Llm& config);
  workflows::ModelAnswer Complete(const workflows::ModelRequest& request,
                                  std::chrono::steady_clock::time_point deadline) override;

 private:
  const Integrations::Llm& config_;
  std::string key_;
};

}  // namespace clubos::integrations
