#include "api/intake.h"

#include "store/catalog.h"

namespace clubos::api {

IntakeBatcher::IntakeBatcher(std::string database_url, store::ConnectionOptions options,
                             workflows::Flow& flow, int committers, int batch_max)
    : url_(std::move(database_url)),
      options_(std::move(options)),
      flow_(flow),
      batch_max_(batch_max) {
  for (int i = 0; i < committers; ++i) committers_.emplace_back([this] { CommitterLoop(); });
}

IntakeBatcher::~IntakeBatcher() {
  Stop();
}

void IntakeBatcher::Stop() {
  std::deque<std::unique_ptr<Pending>> refused;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    refused.swap(waiting_);
  }
  cv_.notify_all();
  for (auto& t : committers_)
    if (t.joinable()) t.join();
  for (auto& p : refused)
    p->answer.set_exception(
        std::make_exception_ptr(store::ConnectionLost("the server is stopping")));
}

IntakeBatcherStats IntakeBatcher::stats() {
  std::lock_guard lk(mu_);
  return stats_;
}

workflows::IntakeResult IntakeBatcher::Submit(const workflows::InboundMessage& msg,
                                              Millis timeout) {
  auto p = std::make_unique<Pending>();
  p->msg = msg;
  auto answer = p->answer.get_future();
  {
    std::lock_guard lk(mu_);
    if (stop_) throw store::ConnectionLost("the server is stopping");
    waiting_.push_back(std::move(p));
  }
  cv_.notify_one();
  if (answer.wait_for(timeout) != std::future_status::ready)
    throw store::ConnectionLost("intake did not answer within " + std::to_string(timeout.count()) +
                                " ms");
  return answer.get();
}

void IntakeBatcher::CommitterLoop() {
  std::unique_ptr<store::Connection> db;
  for (;;) {
    std::vector<std::unique_ptr<Pending>> batch;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !waiting_.empty(); });
      if (stop_) return;
      while (!waiting_.empty() && static_cast<int>(batch.size()) < batch_max_) {
        batch.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
      // More waiting than this batch takes: another committer can start on it now.
      if (!waiting_.empty()) cv_.notify_one();
    }
    std::vector<workflows::Flow::IntakeOutcome> outcomes;
    try {
      if (!db) db = std::make_unique<store::Connection>(url_, store::Catalog::Builtin(), options_);
      std::vector<workflows::InboundMessage> msgs;
      msgs.reserve(batch.size());
      for (const auto& p : batch) msgs.push_back(p->msg);
      outcomes = flow_.IntakeMany(*db, msgs);
    } catch (...) {
      // No connection: every message of the batch learns why (the API answers 503).
      outcomes.assign(batch.size(), {std::nullopt, std::current_exception()});
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (outcomes[i].result)
        batch[i]->answer.set_value(*outcomes[i].result);
      else
        batch[i]->answer.set_exception(outcomes[i].error);
    }
    std::lock_guard lk(mu_);
    ++stats_.batches;
    stats_.messages += static_cast<int64_t>(batch.size());
  }
}

}  // namespace clubos::api
