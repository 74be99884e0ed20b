#pragma once
// A dedicated LISTEN connection. It never runs a transaction (a LISTEN connection that held a
// snapshot would hold back vacuum, and notifications are not delivered inside a transaction).
#include <functional>
#include <memory>
#include <string>

namespace clubos::store {

class Listener {
 public:
  using Callback = std::function<void(const std::string& channel, const std::string& payload)>;
  Listener(std::string url, std::string channel, Callback on_notify);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The socket to poll() for readability; changes after Reconnect().
  int Socket() const;
  // Reads what arrived and dispatches it; returns how many notifications were delivered.
  // Throws ConnectionLost when the backend is gone: call Reconnect(), then catch up by polling,
  // since notifications sent while disconnected are lost.
  int Drain();
  void Reconnect();
  int BackendPid() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string url_;
  std::string channel_;
  Callback on_notify_;
};

}  // namespace clubos::store
