#pragma once
// Group commit for intake. One transaction per message caps intake near the commit rate, and each
// transaction's NOTIFY serialises commits (performance.md: ~2,700 intake transactions/s with 4
// clients on this machine). Here, handler threads hand their message to `committers` threads;
// each takes every message waiting (up to `batch_max`) and stores them in one transaction with one
// commit and one NOTIFY (Flow::IntakeMany). No timer: a batch is whatever arrived while the
// previous commit ran, so a lone message waits for nothing.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "store/db.h"
#include "workflows/flow.h"

namespace clubos::api {

struct IntakeBatcherStats {
  int64_t batches = 0;
  int64_t messages = 0;
};

class IntakeBatcher {
 public:
  IntakeBatcher(std::string database_url, store::ConnectionOptions options, workflows::Flow& flow,
                int committers, int batch_max);
  ~IntakeBatcher();
  IntakeBatcher(const IntakeBatcher&) = delete;
  IntakeBatcher& operator=(const IntakeBatcher&) = delete;

  // Stores the message (deduplicated on its external id) and returns what Flow::Intake would;
  // throws what it would (InvalidInput, store errors), or store::ConnectionLost when the batcher
  // is stopping or no answer came within `timeout`.
  workflows::IntakeResult Submit(const workflows::InboundMessage& msg, Millis timeout);
  // Finishes the batches being committed; messages still waiting are refused.
  void Stop();
  IntakeBatcherStats stats();

 private:
  struct Pending {
    workflows::InboundMessage msg;
    std::promise<workflows::IntakeResult> answer;
  };
  void CommitterLoop();

  std::string url_;
  store::ConnectionOptions options_;
  workflows::Flow& flow_;
  int batch_max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Pending>> waiting_;
  bool stop_ = false;
  IntakeBatcherStats stats_;
  std::vector<std::thread> committers_;
};

}  // namespace clubos::api
