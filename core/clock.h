#pragma once
// The one source of time. Nothing else calls system_clock::now(): tests move a FakeClock instead of
// sleeping, and the queue passes the fake time to SQL so scheduling is testable without waiting.
#include <atomic>
#include <chrono>
#include <optional>

namespace clubos {

using Clock_t = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock_t, std::chrono::microseconds>;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // The time to hand to SQL. A real clock answers nullopt: the database's now() is then the single
  // time source shared by every worker machine (no skew between hosts decides a lease). A fake
  // clock answers its own time, so SQL sees the same instant as the test.
  virtual std::optional<TimePoint> DbNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  std::optional<TimePoint> DbNow() const override { return std::nullopt; }
  static const SystemClock& Instance();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_us_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(std::chrono::microseconds(now_us_.load())); }
  std::optional<TimePoint> DbNow() const override { return Now(); }
  void Advance(std::chrono::microseconds d) { now_us_ += d.count(); }
  void Set(TimePoint t) { now_us_ = t.time_since_epoch().count(); }

 private:
  std::atomic<int64_t> now_us_;
};

// Monotonic time for measuring durations inside one process (latencies, deadlines of local waits).
inline std::chrono::steady_clock::time_point MonoNow() {
  return std::chrono::steady_clock::now();
}

}  // namespace clubos
