#include "workers/job.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "store/db.h"

namespace clubos::workers {

Millis Backoff(const RetryPolicy& policy, int attempt, std::mt19937_64& rng) {
  const int exponent = std::clamp(attempt - 1, 0, 30);
  const double raw = static_cast<double>(policy.base.count()) * std::ldexp(1.0, exponent);
  const double capped = std::min(raw, static_cast<double>(policy.cap.count()));
  std::uniform_real_distribution<double> u(1.0 - policy.jitter, 1.0 + policy.jitter);
  const double jittered = std::min(capped * u(rng), static_cast<double>(policy.cap.count()));
  return Millis(static_cast<int64_t>(std::max(0.0, jittered)));
}

void Registry::Register(KindSpec spec) {
  if (!spec.handler) throw std::invalid_argument("job kind " + spec.kind + " has no handler");
  const std::string kind = spec.kind;
  if (!kinds_.emplace(kind, std::move(spec)).second)
    throw std::invalid_argument("job kind registered twice: " + kind);
}

const KindSpec* Registry::Find(const std::string& kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? nullptr : &it->second;
}

void Registry::RunDeadHooks(store::Tx& tx, const Job& job, const std::string& reason) const {
  if (const auto* spec = Find(job.kind); spec && spec->on_dead) spec->on_dead(tx, job, reason);
  if (global_dead_hook_) global_dead_hook_(tx, job, reason);
}

void JobContext::CompleteInTx(store::Tx& tx) {
  auto r = tx.Exec("job_complete",
                   {store::ArrayLiteral(std::vector<int64_t>{job_.id}),
                    store::ArrayLiteral(std::vector<int32_t>{job_.attempt}), lease_owner_});
  if (r.AffectedRows() != 1)
    throw LeaseLost("job " + std::to_string(job_.id) + " attempt " + std::to_string(job_.attempt) +
                    " is no longer leased to " + lease_owner_);
  // Only a committed completion counts: the transaction may still fail or be retried.
  tx.AfterCommit([this] { completed_in_tx_ = true; });
}

}  // namespace clubos::workers
