#pragma once
// Reads that may be a little stale (the console's lists, metrics scrapes, audit queries) from a
// hot standby, when one is given and is known to be close enough behind the primary; from the
// primary otherwise. Nothing that writes, or decides, reads here.
//
// Staleness is bounded, not guessed: a checker samples the primary's WAL position (LSN) and then
// the standby's replayed position, every `check_interval`. The standby shows every commit the
// primary had made when the newest sample whose LSN it has replayed was taken, so it is at most
// that sample's age behind. Replay timestamps would not do: an idle primary makes an up-to-date
// standby look minutes behind, and a standby cut off from its primary looks current.
//
// The checker runs on a thread of its own: a standby that hangs or is gone costs a request
// nothing but the switch to the primary (at most `max_lag` + one interval after it stopped
// keeping up). A server that answers on the read URL but is not in recovery (a promoted standby,
// perhaps a stale former primary) is not read from: the primary URL finds the primary.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/pool.h"

namespace clubos::store {

struct ReadRouteOptions {
  std::string standby_url;  // empty: every read goes to the primary
  int max_size = 4;         // the standby's connections
  std::chrono::milliseconds max_lag{2'000};
  std::chrono::milliseconds check_interval{250};
  ConnectionOptions connection;
};

struct ReadRouteStats {
  int64_t standby_reads = 0;
  int64_t primary_reads = 0;
  bool standby_fresh = false;
  // The bound on the standby's staleness at the last check, ms; -1 when unknown (never checked,
  // unreachable, not a standby, or behind every sample held).
  int64_t standby_lag_ms = -1;
};

class ReadRoute {
 public:
  // `primary` is the pool every read falls back to; it outlives this object.
  ReadRoute(Pool& primary, ReadRouteOptions options);
  ~ReadRoute();
  ReadRoute(const ReadRoute&) = delete;
  ReadRoute& operator=(const ReadRoute&) = delete;

  bool HasStandby() const { return standby_ != nullptr; }
  // A connection for a read that may be up to max_lag behind the primary.
  Pool::Lease Acquire(std::chrono::milliseconds wait);
  // One check now, on the caller's thread (tests; the checker thread does this by itself).
  void CheckNow();
  ReadRouteStats stats() const;

 private:
  void CheckerLoop();

  Pool& primary_;
  ReadRouteOptions options_;
  std::unique_ptr<Pool> standby_;
  // Until when (steady clock, ns) the standby is known to be within max_lag; reads check it.
  std::atomic<int64_t> fresh_until_{0};
  std::atomic<bool> fresh_{false};  // at the last check, to log the switches
  std::atomic<int64_t> lag_ms_{-1};
  std::atomic<int64_t> standby_reads_{0}, primary_reads_{0};

  // The checker's own connections and samples, under check_mu_.
  std::mutex check_mu_;
  std::unique_ptr<Connection> check_primary_, check_standby_;
  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::string lsn;  // as pg_lsn text; compared by the standby
  };
  std::deque<Sample> samples_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread checker_;
};

}  // namespace clubos::store
