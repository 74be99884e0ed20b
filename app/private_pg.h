#pragma once
// A throwaway PostgreSQL cluster for `clubos bench` and `clubos demo` when no CLUBOS_DATABASE_URL
// is given: initdb in a temporary folder (as the `postgres` user when run as root, since initdb
// refuses root), its own port and socket, durable settings (fsync and synchronous_commit on, so
// the numbers mean something), removed again on destruction.
#include <string>

namespace clubos::app {

class PrivatePostgres {
 public:
  // throws std::runtime_error with the reason and the log path. `durable` false: fsync and
  // synchronous_commit off, for runs whose data is thrown away and whose numbers are not
  // benchmarks (`clubos simulate`).
  explicit PrivatePostgres(bool durable = true);
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;
  const std::string& url() const { return url_; }

 private:
  std::string bin_, root_, url_;
  bool as_postgres_ = false;
};

}  // namespace clubos::app
