#include "store/read_route.h"

#include "core/log.h"
#include "store/catalog.h"

namespace clubos::store {

namespace {
using Steady = std::chrono::steady_clock;

int64_t Ticks(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

ReadRoute::ReadRoute(Pool& primary, ReadRouteOptions options)
    : primary_(primary), options_(std::move(options)) {
  if (options_.standby_url.empty()) return;
  standby_ = std::make_unique<Pool>(options_.standby_url, options_.max_size, options_.connection);
  checker_ = std::thread([this] { CheckerLoop(); });
}

ReadRoute::~ReadRoute() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (checker_.joinable()) checker_.join();
}

Pool::Lease ReadRoute::Acquire(std::chrono::milliseconds wait) {
  if (standby_ && Ticks(Steady::now()) < fresh_until_.load()) {
    try {
      auto lease = standby_->Acquire(wait);
      ++standby_reads_;
      return lease;
    } catch (const DbError& e) {  // gone, or busy: the primary answers
      log::Get()->debug("read from the primary: the standby is not available ({})", e.what());
    }
  }
  ++primary_reads_;
  return primary_.Acquire(wait);
}

void ReadRoute::CheckNow() {
  std::lock_guard check(check_mu_);
  const auto at = Steady::now();  // before the LSN: what committed earlier is at or below it
  try {
    if (!check_primary_) check_primary_ = Connect(primary_.url(), options_.connection);
    samples_.push_back(
        {at, check_primary_->ExecSql("SELECT pg_current_wal_lsn()::text", {}).At(0, 0).Str()});
  } catch (const std::exception& e) {
    check_primary_.reset();
    log::Get()->debug("read route: no sample of the primary's WAL position ({})", e.what());
  }
  // Samples older than the lag allowed cannot make the standby fresh; a few are kept to say how
  // far behind it is.
  while (!samples_.empty() &&
         (samples_.size() > 64 || at - samples_.front().at > 4 * options_.max_lag))
    samples_.pop_front();
  int64_t lag = -1;
  try {
    if (!check_standby_) check_standby_ = Connect(options_.standby_url, options_.connection);
    std::string lsns = "{";
    for (std::size_t i = 0; i < samples_.size(); ++i) lsns += (i ? "," : "") + samples_[i].lsn;
    lsns += "}";
    // The newest sample the standby has replayed (positions only grow, so the highest index).
    const auto r = check_standby_->ExecSql(
        "SELECT pg_is_in_recovery() AS standby, "
        "(SELECT max(i) FROM unnest($1::pg_lsn[]) WITH ORDINALITY AS s(lsn, i) "
        " WHERE lsn <= pg_last_wal_replay_lsn()) AS newest",
        {lsns});
    const auto newest = r.At(0, "newest").OptInt64();
    if (r.At(0, "standby").Bool() && newest) {
      const auto taken = samples_[static_cast<std::size_t>(*newest - 1)].at;
      lag = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - taken).count();
      // Fresh until the sample is max_lag old, whether or not this checker runs again by then.
      fresh_until_ = std::max(fresh_until_.load(), Ticks(taken + options_.max_lag));
    }
  } catch (const std::exception& e) {
    check_standby_.reset();
    log::Get()->debug("read route: the standby did not answer ({})", e.what());
  }
  const bool was_fresh = fresh_.exchange(Ticks(Steady::now()) < fresh_until_.load());
  lag_ms_ = lag;
  if (was_fresh != fresh_.load())
    log::Get()->info("read route: lists and scrapes read from the {} (standby {})",
                     fresh_ ? "standby" : "primary",
                     lag < 0 ? std::string("unknown or not a standby")
                             : std::to_string(lag) + " ms behind at most");
}

void ReadRoute::CheckerLoop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    lk.unlock();
    CheckNow();
    lk.lock();
    cv_.wait_for(lk, options_.check_interval, [&] { return stop_; });
  }
}

ReadRouteStats ReadRoute::stats() const {
  ReadRouteStats s;
  s.standby_reads = standby_reads_;
  s.primary_reads = primary_reads_;
  s.standby_fresh = standby_ && Ticks(Steady::now()) < fresh_until_.load();
  s.standby_lag_ms = lag_ms_;
  return s;
}

}  // namespace clubos::store
