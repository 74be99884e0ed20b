#pragma once
// The opaque paging cursors of the list routes (`after`), pure so the fuzzer reaches them. A
// cursor is base64url of a versioned text the API wrote; decoding checks every field against what
// the database takes (an id is a positive bigint, a priority a smallint, a time within
// kMinTimestamp..kMaxTimestamp), so a forged or damaged cursor is a 400 `bad_cursor`, never a 500.
#include <cstdint>
#include <string>

#include "core/clock.h"

namespace clubos::api::cursor {

// GET /v1/threads: newest first, continue below this thread id.
std::string EncodeThreads(int64_t last_id);
int64_t DecodeThreads(const std::string& cursor);

// GET /v1/escalations: (priority, escalated_at, thread id) ascending, continue after this one.
struct EscalationKey {
  int priority = 0;
  TimePoint escalated_at;
  int64_t thread_id = 0;
};
std::string EncodeEscalations(const EscalationKey& last);
EscalationKey DecodeEscalations(const std::string& cursor);

}  // namespace clubos::api::cursor
