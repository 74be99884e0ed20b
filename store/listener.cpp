#include "store/listener.h"

#include <pqxx/pqxx>

#include "store/db.h"

namespace clubos::store {

namespace {
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, Listener::Callback* cb)
      : pqxx::notification_receiver(c, channel), cb_(cb) {}
  void operator()(const std::string& payload, int) override { (*cb_)(channel(), payload); }

 private:
  Listener::Callback* cb_;
};
}  // namespace

struct Listener::Impl {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Receiver> receiver;  // destroyed before its connection
};

Listener::Listener(std::string url, std::string channel, Callback on_notify)
    : impl_(new Impl),
      url_(std::move(url)),
      channel_(std::move(channel)),
      on_notify_(std::move(on_notify)) {
  Reconnect();
}

Listener::~Listener() {
  impl_->receiver.reset();
  impl_->conn.reset();
}

void Listener::Reconnect() {
  try {
    impl_->receiver.reset();
    impl_->conn.reset();
    store::ConnectionOptions o;
    o.application_name = "clubos-listener";
    o.connect_timeout_s = 5;  // the dispatcher waits on a reconnect (a listen host may be gone)
    impl_->conn = std::make_unique<pqxx::connection>(WithNetworkDefaults(url_, o));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored \
    "-Wdeprecated-declarations"               // deprecated in 6, gone with reactivation in 7
    impl_->conn->inhibit_reactivation(true);  // a silent reopen would drop the LISTEN
#pragma GCC diagnostic pop
    impl_->conn->set_variable("application_name", "'clubos-listener'");
    impl_->receiver = std::make_unique<Receiver>(*impl_->conn, channel_, &on_notify_);
    impl_->conn->get_notifs();  // issues the LISTEN now rather than lazily
  } catch (const pqxx::broken_connection& e) {
    impl_->receiver.reset();
    impl_->conn.reset();
    throw ConnectionLost(std::string("listener connect: ") + e.what());
  } catch (const pqxx::failure& e) {
    impl_->receiver.reset();
    impl_->conn.reset();
    throw ConnectionLost(std::string("listener: ") + e.what());
  }
}

int Listener::Socket() const {
  return impl_->conn ? impl_->conn->sock() : -1;
}

int Listener::BackendPid() const {
  return impl_->conn ? impl_->conn->backendpid() : 0;
}

int Listener::Drain() {
  if (!impl_->conn) throw ConnectionLost("listener: not connected");
  try {
    const int n = impl_->conn->get_notifs();
    // pqxx 6 reports a dead backend as "still open" with zero notifications on a readable socket;
    // the libpq status is the only reliable signal, so check it explicitly.
    if (n == 0 && !impl_->conn->is_open()) throw ConnectionLost("listener: connection closed");
    return n;
  } catch (const pqxx::broken_connection& e) {
    throw ConnectionLost(std::string("listener: ") + e.what());
  }
}

}  // namespace clubos::store
