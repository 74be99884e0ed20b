#pragma once
// One job's run, in two steps that every executor shares: the worker runtime's threads and the
// simulation's single-threaded stepper (simulation/) call the same code, so what the simulation
// checks is what production runs.
//   RunHandler     the kind's handler, its answer (an exception is a Retry)
//   RecordOutcome  what the queue does with an answer that was not a completion: dead, retried
//                  after the kind's backoff (or the vendor's Retry-After), or deferred
// A caller that dies between the two (a crash) leaves the job running under its lease; the
// leader's rescue hands it to another worker when the lease expires.
#include <random>
#include <string>

#include "core/clock.h"
#include "workers/job.h"
#include "workers/queue_ops.h"

namespace clubos::store {
class Connection;
}

namespace clubos::workers {

struct HandlerRun {
  Outcome outcome;
  bool completed_in_tx = false;  // the handler's transaction completed the job: nothing to ack
  bool lease_lost = false;       // LeaseLost: the job is someone else's now; record nothing
  std::string lost_reason;
};

HandlerRun RunHandler(const Registry& registry, const Job& job, store::Connection& db,
                      const Clock& clock, const std::string& owner);

struct Recorded {
  enum class Kind { kDead, kRetried, kDeferred };
  Kind kind = Kind::kRetried;
  Resolution resolution = Resolution::kDone;  // kLost: the job was no longer ours
  Millis delay{0};                            // kRetried / kDeferred
};

// `outcome` must not be kComplete (a completion is acknowledged, alone or in a batch). Throws
// when the database does not answer: the outcome is then unrecorded and the lease will expire.
Recorded RecordOutcome(store::Connection& db, const Registry& registry, const Job& job,
                       const std::string& owner, const Outcome& outcome, std::mt19937_64& rng,
                       const Clock& clock);

}  // namespace clubos::workers
