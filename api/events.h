#pragma once
// The live event feed behind GET /v1/events: one LISTEN connection per process wakes every waiting
// request when history commits (migration 0012's trigger), so a console sees an escalation within
// a round trip of its commit without any request polling the database in a loop.
//
// A waiting request holds a handler thread: at most `max_waiters` wait at once, and the others are
// answered at once (the console then reads again after the stream's retry delay: polling, with
// the same cursor and the same answers).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"

namespace clubos::api {

class EventFeed {
 public:
  // An empty `listen_url` (behind a pooler in transaction mode without a direct URL): nothing
  // listens, and Wait returns within half a second, for the waiter to read again.
  EventFeed(std::string listen_url, int max_waiters);
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  void Start();
  void Stop();  // wakes every waiter; they answer with what they have

  // Notifications so far (of history or of the controls: a waiter reads both again either way).
  uint64_t Now() const;
  // Until a notification after `seen` arrives, `timeout` passes, or the feed stops or is woken;
  // returns the count by then.
  uint64_t Wait(uint64_t seen, Millis timeout);
  // Wakes every waiter (a drain: they answer now with what they have).
  void Wake();

  // A place among the waiters, or none when `max_waiters` wait already (answer without waiting).
  class Slot {
   public:
    explicit Slot(EventFeed* feed) : feed_(feed) {}
    Slot(Slot&& o) noexcept : feed_(o.feed_) { o.feed_ = nullptr; }
    Slot(const Slot&) = delete;
    ~Slot();
    explicit operator bool() const { return feed_ != nullptr; }

   private:
    EventFeed* feed_;
  };
  Slot TryWait();
  bool stopping() const { return stop_; }

 private:
  void Loop();

  std::string url_;
  const int max_waiters_;
  std::atomic<int> waiters_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t seen_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace clubos::api
