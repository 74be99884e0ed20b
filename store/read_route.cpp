#include "store/read_route.h"

#include "core/log.h"
#include "store/catalog.h"

namespace clubos::store {

namespace {
using Steady = std::chrono::steady_clock;

int64_t Ticks(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// A standby that stops answering must cost a request seconds, not a minute.
ConnectionOptions Shortened(ConnectionOptions o) {
  o.connect_timeout_s = std::min(o.connect_timeout_s, 2);
  o.tcp_user_timeout_ms = std::min(o.tcp_user_timeout_ms, 3'000);
  o.max_tx_attempts = 1;  // a read that fails there runs on the primary instead
  return o;
}
}  // namespace

ReadRoute::ReadRoute(Pool& primary, ReadRouteOptions options)
    : primary_(primary), options_(std::move(options)) {
  if (options_.standby_url.empty()) return;
  options_.connection = Shortened(options_.connection);
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

bool ReadRoute::Fresh() const {
  return Ticks(Steady::now()) < fresh_until_.load();
}

std::optional<Pool::Lease> ReadRoute::StandbyFor(Freshness freshness,
                                                 std::chrono::milliseconds wait) {
  if (!standby_ || Ticks(Steady::now()) >= usable_until_.load()) return std::nullopt;
  if (freshness == Freshness::kWithinMaxLag && !Fresh()) return std::nullopt;
  // What the primary has now, for a read that must show it (taken before the standby is asked).
  std::string primary_lsn;
  if (freshness == Freshness::kPrimaryNow) {
    auto p = primary_.Acquire(wait);
    primary_lsn = p->ExecSql("SELECT pg_current_wal_lsn()::text", {}).At(0, 0).Str();
  }
  try {
    auto lease = standby_->Acquire(std::chrono::milliseconds(0));  // none free: the primary
    if (freshness == Freshness::kWithinMaxLag) {
      if (!Fresh()) return std::nullopt;  // expired while the connection was being opened
      return lease;
    }
    const auto until = Steady::now() + options_.catch_up_wait;
    for (;;) {
      if (lease
              ->ExecSql("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)",
                        {primary_lsn})
              .At(0, 0)
              .Bool())
        return lease;
      if (Steady::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  } catch (const DbError& e) {
    StandbyFailed(e);
    return std::nullopt;
  }
}

void ReadRoute::StandbyFailed(const DbError& e) {
  // Until the checker finds it well again: reads go to the primary.
  usable_until_ = 0;
  fresh_until_ = 0;
  log::Get()->warn("read route: the standby failed a read ({}); reads go to the primary", e.what());
}

void ReadRoute::CheckNow() {
  std::lock_guard check(check_mu_);
  const auto at = Steady::now();  // before the LSN: what committed earlier is at or below it
  std::string system, timeline;
  try {
    if (!check_primary_) check_primary_ = Connect(primary_.url(), options_.connection);
    const auto r = check_primary_->ExecSql(
        "SELECT pg_current_wal_lsn()::text AS lsn, "
        "(SELECT system_identifier FROM pg_control_system())::text AS system, "
        "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text AS tli",
        {});
    system = r.At(0, "system").Str();
    timeline = r.At(0, "tli").Str();
    // Another server answers the primary URL (a failover), or a new timeline: positions sampled
    // before mean nothing now.
    if (system + "/" + timeline != primary_identity_) {
      samples_.clear();
      primary_identity_ = system + "/" + timeline;
      usable_until_ = 0;
      fresh_until_ = 0;
    }
    samples_.push_back({at, r.At(0, "lsn").Str()});
  } catch (const std::exception& e) {
    check_primary_.reset();
    log::Get()->debug("read route: no sample of the primary's WAL position ({})", e.what());
  }
  // Samples older than the lag allowed cannot make the standby fresh; a few more are kept to say
  // how far behind it is.
  while (!samples_.empty() &&
         at - samples_.front().at > options_.max_lag + 4 * options_.check_interval)
    samples_.pop_front();

  bool usable = false;
  int64_t lag = -1;
  if (!system.empty()) {
    try {
      if (!check_standby_) check_standby_ = Connect(options_.standby_url, options_.connection);
      std::string lsns = "{";
      for (std::size_t i = 0; i < samples_.size(); ++i) lsns += (i ? "," : "") + samples_[i].lsn;
      lsns += "}";
      // Its timeline: the one it receives, or (for a role that may not read the WAL receiver's
      // details) the one of its last restart point, which is behind for a while after a failover:
      // the standby is then left unused until it has one on the new timeline.
      const auto r = check_standby_->ExecSql(
          "SELECT pg_is_in_recovery() AS standby, "
          "(SELECT system_identifier FROM pg_control_system())::text AS system, "
          "coalesce((SELECT received_tli FROM pg_stat_wal_receiver), "
          "(SELECT timeline_id FROM pg_control_checkpoint()))::text AS tli, "
          "(SELECT max(i) FROM unnest($1::pg_lsn[]) WITH ORDINALITY AS s(lsn, i) "
          " WHERE lsn <= pg_last_wal_replay_lsn()) AS newest",
          {lsns});
      usable = r.At(0, "standby").Bool() && r.At(0, "system").Str() == system &&
               r.At(0, "tli").Str() == timeline;
      const auto newest = r.At(0, "newest").OptInt64();
      if (usable && newest) {
        const auto taken = samples_[static_cast<std::size_t>(*newest - 1)].at;
        lag = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - taken).count();
        // Fresh until the sample is max_lag old, whether or not this checker runs again by then.
        fresh_until_ = std::max(fresh_until_.load(), Ticks(taken + options_.max_lag));
      }
    } catch (const std::exception& e) {
      check_standby_.reset();
      log::Get()->debug("read route: the standby did not answer ({})", e.what());
    }
  }
  if (usable) {
    usable_until_ = Ticks(Steady::now() + 4 * options_.check_interval);
  } else {
    usable_until_ = 0;
    fresh_until_ = 0;
  }
  lag_ms_ = lag;
  const bool fresh = usable && Fresh();
  if (fresh != was_fresh_)
    log::Get()->info("read route: reads that may lag {} s use the {}",
                     static_cast<double>(options_.max_lag.count()) / 1000,
                     fresh ? "standby (" + std::to_string(lag) + " ms behind at most)"
                           : std::string("primary (the standby is behind, gone or not this "
                                         "primary's)"));
  was_fresh_ = fresh;
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
  s.standby_usable = standby_ && Ticks(Steady::now()) < usable_until_.load();
  s.standby_fresh = s.standby_usable && Fresh();
  s.standby_lag_ms = lag_ms_;
  return s;
}

}  // namespace clubos::store
