#include "store/pool.h"

#include "store/catalog.h"

namespace clubos::store {

Pool::Lease::~Lease() {
  if (pool_ && conn_) pool_->Return(std::move(conn_));
}

Pool::Pool(std::string url, int max_size, ConnectionOptions options)
    : url_(std::move(url)), max_size_(max_size), options_(std::move(options)) {}

Pool::Lease Pool::Acquire(std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, wait, [&] { return !idle_.empty() || open_ < max_size_; }))
    throw PoolExhausted("all " + std::to_string(max_size_) + " connections busy for " +
                        std::to_string(wait.count()) + " ms");
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(c));
  }
  ++open_;
  lk.unlock();
  try {
    return Lease(this, std::make_unique<Connection>(url_, Catalog::Builtin(), options_));
  } catch (...) {
    lk.lock();
    --open_;
    cv_.notify_one();
    throw;
  }
}

void Pool::Return(std::unique_ptr<Connection> c) {
  std::lock_guard lk(mu_);
  idle_.push_back(std::move(c));
  cv_.notify_one();
}

int Pool::open() const {
  std::lock_guard lk(mu_);
  return open_;
}

int Pool::idle() const {
  std::lock_guard lk(mu_);
  return static_cast<int>(idle_.size());
}

}  // namespace clubos::store
