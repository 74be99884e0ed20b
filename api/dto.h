#pragma once
// Request bodies of the API, parsed from untrusted text into the domain's types. Every function
// throws ApiError 400 (bad JSON, a field missing or of the wrong type) and nothing else; values
// the domain refuses (an unknown bay, a number that is no facility line) are the domain's to
// refuse (422). Pure and free of Pistache and the database, so the fuzzer builds it alone.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "workflows/agent.h"
#include "workflows/flow.h"

namespace clubos::api::dto {

// POST /v1/messages: {"from", "to", "body", "external_id"?}
workflows::InboundMessage ParseMessage(const std::string& body);

// POST /v1/actions: {"kind", "target": {...}, "reason", "booking_id"?, "thread_id"?, "text"?,
// "human_override"?, "override_stop"?}. `triggered_by` and `admin` are left for the caller (who
// triggers it, and with which role).
workflows::ActionRequest ParseAction(const std::string& body);

struct Resolution {
  std::string resolution;
  std::string note;
  bool take_over = false;
};
// POST /v1/escalations/{id}/resolve: {"resolution", "note"?, "take_over"?}
Resolution ParseResolve(const std::string& body);

// POST /v1/escalations/{id}/claim: no body, or {"take_over": true} to take another's claim.
bool ParseClaim(const std::string& body);

// POST /v1/actions/{id}/flag-rollback: {"reason"}
std::string ParseFlagRollback(const std::string& body);

struct FeedbackBody {
  bool helpful = false;
  std::optional<std::string> correction;
};
// POST /v1/actions/{id}/feedback: {"helpful": true|false, "correction"?: "what it should have
// said"}; the correction only with "helpful": false, 1..workflows::kMaxCorrectionChars characters
// of text that says something. No other fields.
FeedbackBody ParseFeedback(const std::string& body);

// POST /v1/knowledge/documents/{id}/proposals: {"content": the whole knowledge file,
// "reasoning", "base_version"?, "case_ids"?: [ids]}. No other fields.
struct KnowledgeProposalBody {
  std::string content;
  std::string reasoning;
  std::optional<int> base_version;
  std::vector<int64_t> case_ids;
};
KnowledgeProposalBody ParseKnowledgeProposal(const std::string& body);
// POST /v1/knowledge/documents/{id}/restore: {"version", "note"?}.
struct KnowledgeRestoreBody {
  int version = 0;
  std::string note;
};
KnowledgeRestoreBody ParseKnowledgeRestore(const std::string& body);
// POST /v1/knowledge/proposals/{id}/reject: no body, or {"note"?}.
std::string ParseNote(const std::string& body);

// POST /v1/actions/{id}/confirm|reject: no body, or a JSON object (ignored).
void ParseEmptyOrObject(const std::string& body);

// POST /v1/agent/heartbeat: {"tps_version", "tps_running", "radar_reachable", "tps_started_at"?,
// "booted_at"?} with times as ParseTimestamp (core/time_format.h) reads them, none of them more
// than workflows::kMaxAgentClockSkew after `now` (the server's clock).
workflows::AgentHeartbeat ParseHeartbeat(const std::string& body, TimePoint now);

struct Report {
  int64_t command_id = 0;
  bool success = false;
  std::string message;
};
// POST /v1/agent/report: {"command_id", "success", "message"?}
Report ParseReport(const std::string& body);

}  // namespace clubos::api::dto
