#include "api/events.h"

#include <poll.h>

#include <algorithm>
#include <memory>

#include "core/log.h"
#include "store/db.h"
#include "store/listener.h"

namespace clubos::api {

namespace {
constexpr const char* kChannel = "clubos_events";
// How long the listener sleeps between attempts while the database is unreachable, and how often
// it wakes to look at `stop_`.
constexpr Millis kReconnectDelay{1'000};
constexpr int kPollMs = 500;
}  // namespace

EventFeed::EventFeed(std::string listen_url, int max_waiters)
    : url_(std::move(listen_url)), max_waiters_(max_waiters) {}

EventFeed::~EventFeed() {
  Stop();
}

void EventFeed::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EventFeed::Stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t EventFeed::Now() const {
  std::lock_guard lk(mu_);
  return seen_;
}

uint64_t EventFeed::Wait(uint64_t seen, Millis timeout) {
  // Polling: the waiter reads again this often. Not counted as news, which would make it read
  // again and again in quick succession, as it does after a notification.
  if (url_.empty()) timeout = std::min(timeout, Millis(kPollMs));
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return stop_ || seen_ != seen; });
  return seen_;
}

void EventFeed::Wake() {
  {
    std::lock_guard lk(mu_);
    ++seen_;
  }
  cv_.notify_all();
}

EventFeed::Slot EventFeed::TryWait() {
  if (waiters_.fetch_add(1) >= max_waiters_) {
    waiters_.fetch_sub(1);
    return Slot(nullptr);
  }
  return Slot(this);
}

EventFeed::Slot::~Slot() {
  if (feed_) feed_->waiters_.fetch_sub(1);
}

void EventFeed::Loop() {
  std::unique_ptr<store::Listener> listener;
  while (!stop_) {
    if (url_.empty()) {  // nothing to listen on: Wait() returns every kPollMs instead
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_.load(); });
      break;
    }
    if (!listener) {
      try {
        listener = std::make_unique<store::Listener>(
            url_, kChannel, [this](const std::string&, const std::string&) { Wake(); });
        // Notifications sent while this was not listening are lost: waiters read again.
        Wake();
      } catch (const std::exception& e) {
        log::Get()->warn("event feed: cannot listen ({}); retrying", e.what());
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, kReconnectDelay, [&] { return stop_.load(); });
        continue;
      }
    }
    pollfd p{listener->Socket(), POLLIN, 0};
    const int r = ::poll(&p, 1, kPollMs);  // wakes only to look at stop_: idle costs nothing
    if (r <= 0) continue;
    try {
      listener->Drain();
    } catch (const std::exception& e) {
      log::Get()->warn("event feed: the listener's connection broke ({}); reconnecting", e.what());
      listener.reset();
    }
  }
  cv_.notify_all();
}

}  // namespace clubos::api
