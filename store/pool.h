#pragma once
// A bounded pool of connections for request-shaped work (the HTTP API, tools). Long-lived loops
// (dispatcher, executors, maintenance) own their connection instead and never wait on the pool.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/db.h"

namespace clubos::store {

class PoolExhausted : public DbError {
  using DbError::DbError;
};

class Pool {
 public:
  class Lease {
   public:
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    friend class Pool;
    Lease(Pool* p, std::unique_ptr<Connection> c) : pool_(p), conn_(std::move(c)) {}
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Connections are opened on demand, up to `max_size`.
  Pool(std::string url, int max_size, ConnectionOptions options = {});
  // Waits up to `wait` for a free connection; throws PoolExhausted after that, ConnectionLost when
  // a new connection cannot be opened.
  Lease Acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(5'000));
  int open() const;
  int idle() const;
  const std::string& url() const { return url_; }

 private:
  void Return(std::unique_ptr<Connection> c);
  std::string url_;
  int max_size_;
  ConnectionOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

}  // namespace clubos::store
