#pragma once
// What a job is, what a handler answers, and how each kind retries.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "core/clock.h"

namespace clubos::store {
class Tx;
class Connection;
}  // namespace clubos::store

namespace clubos::workers {

struct Job {
  int64_t id = 0;
  std::string queue;
  std::string kind;
  std::string args;  // JSON text; handlers parse what they need
  int priority = 0;
  int attempt = 0;  // 1 on the first run
  int max_attempts = 0;
  TimePoint run_at;
  TimePoint created_at;
  bool LastAttempt() const { return attempt >= max_attempts; }
};

// A handler's answer is a value, never an exception (an exception is treated as Retry).
struct Outcome {
  enum class Type { kComplete, kRetry, kDefer, kFail };
  Type type = Type::kComplete;
  std::optional<Millis> retry_after;  // kRetry: override the backoff
  TimePoint defer_until;              // kDefer
  std::string reason;                 // kRetry / kDefer / kFail

  static Outcome Complete() { return {}; }
  // Counts an attempt; runs again after the kind's backoff (or `after`), dies after the last one.
  static Outcome Retry(std::string error, std::optional<Millis> after = std::nullopt) {
    return {Type::kRetry, after, {}, std::move(error)};
  }
  // Not ready yet (rate limit, cooldown window): runs again at `until`, no attempt consumed.
  static Outcome DeferUntil(TimePoint until, std::string reason) {
    return {Type::kDefer, std::nullopt, until, std::move(reason)};
  }
  // Will never succeed: dead now, whatever attempts are left.
  static Outcome Fail(std::string reason) {
    return {Type::kFail, std::nullopt, {}, std::move(reason)};
  }
};

struct RetryPolicy {
  Millis base{1000};     // first retry after about this long
  Millis cap{300'000};   // no retry waits longer
  double jitter = 0.25;  // +-25%: spreads a burst of failures so retries don't stampede
};

// The backoff before attempt `attempt + 1`: base * 2^(attempt-1), capped, jittered from `rng`.
Millis Backoff(const RetryPolicy& policy, int attempt, std::mt19937_64& rng);

class JobContext;
using Handler = std::function<Outcome(JobContext&)>;
// Runs in the transaction that marks the job dead (the flow escalates the thread here).
using DeadHook = std::function<void(store::Tx&, const Job&, const std::string& reason)>;

struct KindSpec {
  std::string kind;
  Handler handler;
  RetryPolicy retry;
  Millis timeout{60'000};  // past this the lease is no longer extended and the job is rescued
  DeadHook on_dead;        // optional; the registry's global hook runs too
};

class Registry {
 public:
  void Register(KindSpec spec);
  const KindSpec* Find(const std::string& kind) const;
  void OnDead(DeadHook hook) { global_dead_hook_ = std::move(hook); }
  void RunDeadHooks(store::Tx& tx, const Job& job, const std::string& reason) const;

 private:
  std::map<std::string, KindSpec> kinds_;
  DeadHook global_dead_hook_;
};

// What a running handler may use. Its connection belongs to the executor thread.
class JobContext {
 public:
  JobContext(const Job& job, store::Connection& db, const Clock& clock, std::string lease_owner)
      : job_(job), db_(db), clock_(clock), lease_owner_(std::move(lease_owner)) {}
  const Job& job() const { return job_; }
  store::Connection& db() { return db_; }
  const Clock& clock() const { return clock_; }
  // Completes the job inside the caller's transaction, so the handler's database effects and the
  // completion commit together: exactly once. Throws LeaseLost (rolling the transaction back) when
  // the job is no longer this worker's.
  void CompleteInTx(store::Tx& tx);
  bool completed_in_tx() const { return completed_in_tx_; }

 private:
  const Job& job_;
  store::Connection& db_;
  const Clock& clock_;
  std::string lease_owner_;
  bool completed_in_tx_ = false;
};

class LeaseLost : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace clubos::workers
