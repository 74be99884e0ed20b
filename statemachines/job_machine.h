#pragma once
// The lifecycle of a job row. The SQL in schema/queries/jobs.sql implements exactly these moves;
// tests/pg/queue_pgtest.cpp checks the database against this table.
#include "statemachines/table.h"

namespace clubos::sm {

// clang-format off
inline const Table& JobMachine() {
  static const Table t(
      "job",
      {"scheduled", "available", "running", "dead", "deleted"},
      {"enqueued", "enqueued_for_later", "promoted", "fetched", "completed", "retried", "retried_later",
       "deferred", "released", "lease_expired", "failed", "lease_expired_final", "pruned"},
      {
          // from        event                  to           note
          {"available", "enqueued",            "=",         "run_at <= now"},
          {"scheduled", "enqueued_for_later",  "=",         "run_at > now"},
          {"scheduled", "promoted",            "available", "leader, run_at reached"},
          {"available", "fetched",             "running",   "SKIP LOCKED batch, attempt + 1, lease"},
          {"running",   "completed",           "deleted",   "acked in batches; history lives in transitions"},
          {"running",   "retried",             "available", "no backoff"},
          {"running",   "retried_later",       "scheduled", "backoff with jitter"},
          {"running",   "deferred",            "scheduled", "attempt refunded"},
          {"running",   "released",            "available", "graceful stop; attempt refunded"},
          {"running",   "lease_expired",       "available", "leader rescue; attempt stays used"},
          {"running",   "failed",              "dead",      "permanent, or last attempt; dead hook runs"},
          {"running",   "lease_expired_final", "dead",      "leader rescue on the last attempt"},
          {"dead",      "pruned",              "deleted",   "after dead_retention"},
      });
  return t;
}
// clang-format on

}  // namespace clubos::sm
