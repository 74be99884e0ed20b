#include "workers/run_job.h"

#include "core/assert.h"

namespace clubos::workers {

HandlerRun RunHandler(const Registry& registry, const Job& job, store::Connection& db,
                      const Clock& clock, const std::string& owner) {
  HandlerRun run;
  const KindSpec* spec = registry.Find(job.kind);
  if (!spec) {
    run.outcome = Outcome::Retry("no handler for kind '" + job.kind + "' in worker " + owner);
    return run;
  }
  JobContext ctx(job, db, clock, owner);
  try {
    run.outcome = spec->handler(ctx);
    run.completed_in_tx = ctx.completed_in_tx();
  } catch (const LeaseLost& e) {
    run.lease_lost = true;
    run.lost_reason = e.what();
  } catch (const std::exception& e) {
    run.outcome = Outcome::Retry(std::string("handler threw: ") + e.what());
  } catch (...) {
    run.outcome = Outcome::Retry("handler threw a non-standard exception");
  }
  return run;
}

Recorded RecordOutcome(store::Connection& db, const Registry& registry, const Job& job,
                       const std::string& owner, const Outcome& out, std::mt19937_64& rng,
                       const Clock& clock) {
  CLUBOS_ASSERT(out.type != Outcome::Type::kComplete, "a completion is acknowledged, not recorded");
  Recorded rec;
  const bool dies =
      out.type == Outcome::Type::kFail || (out.type == Outcome::Type::kRetry && job.LastAttempt());
  if (dies) {
    rec.kind = Recorded::Kind::kDead;
    rec.resolution = Kill(db, registry, job, owner, out.reason, clock);
  } else if (out.type == Outcome::Type::kRetry) {
    const KindSpec* spec = registry.Find(job.kind);
    rec.kind = Recorded::Kind::kRetried;
    rec.delay = out.retry_after ? *out.retry_after
                                : Backoff(spec ? spec->retry : RetryPolicy{}, job.attempt, rng);
    rec.resolution = Retry(db, job, owner, rec.delay, out.reason, false, clock);
  } else {  // kDefer
    rec.kind = Recorded::Kind::kDeferred;
    rec.delay = std::chrono::duration_cast<Millis>(out.defer_until - clock.Now());
    rec.resolution = Retry(db, job, owner, rec.delay, out.reason, true, clock);
  }
  return rec;
}

}  // namespace clubos::workers
