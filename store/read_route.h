#pragma once
// Reads that need not come from the primary (the console's lists, the status page) run on a hot
// standby when it is known to be fresh enough for them; on the primary otherwise. Nothing that
// writes or decides reads here.
//
// Two kinds of freshness:
//  - kPrimaryNow: the answer shows everything the primary had committed when the read began. The
//    primary's WAL position (LSN) is taken first, and the standby is used once it has replayed up
//    to it (waiting at most `catch_up_wait`). The console refreshes its lists when the live feed
//    (LISTEN on the primary) says something changed: those reads must see that change.
//  - kWithinMaxLag: the answer may miss at most the last `max_lag` of commits. A checker samples
//    the primary's LSN and then asks the standby which of the sampled positions it has replayed:
//    the standby shows every commit the primary had made when the newest of those was taken, so
//    it is at most that sample's age behind. (Replay timestamps would not do: an idle primary
//    makes an up-to-date standby look minutes behind, and a standby cut off from its primary
//    looks current.) The verdict expires by itself: a checker that hangs cannot keep a stale
//    standby in use.
//
// LSNs compare only within one history: the standby is used only while it streams from this
// primary's cluster (the same system identifier) on the primary's current timeline. A promoted
// standby, one left on the old timeline after a failover, or a server of another cluster is not
// read from. A read that fails on the standby runs again on the primary (these reads change
// nothing); the standby's connections time out in a few seconds, so a standby that is gone costs
// a request at most that once, and the checker then stops sending reads to it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "store/pool.h"

namespace clubos::store {

struct ReadRouteOptions {
  std::string standby_url;  // empty: every read goes to the primary
  int max_size = 4;         // the standby's connections
  std::chrono::milliseconds max_lag{2'000};
  std::chrono::milliseconds check_interval{250};
  std::chrono::milliseconds catch_up_wait{50};
  ConnectionOptions connection;  // for the standby (its timeouts are shortened) and the checker
};

struct ReadRouteStats {
  int64_t standby_reads = 0;
  int64_t primary_reads = 0;
  bool standby_usable = false;  // streaming from this primary on its timeline, at the last check
  bool standby_fresh = false;   // and within max_lag now
  // The bound on the standby's staleness at the last check, ms; -1 when unknown (never checked,
  // unreachable, not this primary's standby, or behind every sample held).
  int64_t standby_lag_ms = -1;
};

class ReadRoute {
 public:
  enum class Freshness { kPrimaryNow, kWithinMaxLag };

  // `primary` is the pool every read falls back to; it outlives this object.
  ReadRoute(Pool& primary, ReadRouteOptions options);
  ~ReadRoute();
  ReadRoute(const ReadRoute&) = delete;
  ReadRoute& operator=(const ReadRoute&) = delete;

  bool HasStandby() const { return standby_ != nullptr; }

  // Runs `read(Connection&)` where `freshness` allows, and returns what it returns. `wait` bounds
  // the wait for a primary connection (PoolExhausted past it).
  template <typename F>
  auto Read(Freshness freshness, std::chrono::milliseconds wait, F&& read) {
    if (auto lease = StandbyFor(freshness, wait)) {
      try {
        auto out = read(**lease);
        ++standby_reads_;
        return out;
      } catch (const DbError& e) {
        StandbyFailed(e);
      }
    }
    auto lease = primary_.Acquire(wait);
    ++primary_reads_;
    return read(*lease);
  }

  ReadRouteStats stats() const;

 private:
  std::optional<Pool::Lease> StandbyFor(Freshness freshness, std::chrono::milliseconds wait);
  void StandbyFailed(const DbError& e);
  bool Fresh() const;
  void CheckNow();
  void CheckerLoop();

  Pool& primary_;
  ReadRouteOptions options_;
  std::unique_ptr<Pool> standby_;
  // Until when (steady clock, ns) the standby may be used at all, and is within max_lag.
  std::atomic<int64_t> usable_until_{0};
  std::atomic<int64_t> fresh_until_{0};
  std::atomic<int64_t> lag_ms_{-1};
  std::atomic<int64_t> standby_reads_{0}, primary_reads_{0};

  // The checker's own connections, samples and the primary's identity, under check_mu_.
  std::mutex check_mu_;
  std::unique_ptr<Connection> check_primary_, check_standby_;
  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::string lsn;  // as pg_lsn text
  };
  std::deque<Sample> samples_;
  std::string primary_identity_;  // system identifier and timeline of the last sample
  bool was_fresh_ = false;        // at the last check, to log the switches

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread checker_;
};

}  // namespace clubos::store
