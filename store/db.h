#pragma once
// The database seam. Callers see named statements, text parameters and typed fields; libpqxx stays
// inside store/. Operating errors are classified here, once:
//   serialization failure / deadlock -> the transaction is retried (bounded)
//   broken connection before commit  -> reconnect, retry (nothing was committed)
//   broken connection during commit  -> CommitUnknown: the caller re-reads and reconciles
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace clubos::store {

class Catalog;

// ---- errors ----------------------------------------------------------------------------------
class DbError : public std::runtime_error {
 public:
  DbError(const std::string& what, std::string sqlstate = "")
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};
// The connection is gone; nothing of the current transaction was committed.
class ConnectionLost : public DbError {
  using DbError::DbError;
};
// The connection broke while COMMIT was in flight: the transaction may or may not have committed.
class CommitUnknown : public DbError {
  using DbError::DbError;
};
// Serialization failure or deadlock that outlived the retry budget.
// The connection went away, before or during a commit: worth asking again once it is back.
inline bool ConnectionWentAway(const DbError& e) {
  return dynamic_cast<const ConnectionLost*>(&e) || dynamic_cast<const CommitUnknown*>(&e);
}

class TxConflict : public DbError {
  using DbError::DbError;
};
// A unique, check or foreign-key constraint refused the write (sqlstate class 23).
class ConstraintViolation : public DbError {
  using DbError::DbError;
};

// ---- parameters ------------------------------------------------------------------------------
// Every parameter travels as text (or NULL); statements cast ($1::bigint). This keeps the
// statement's types in the .sql file where a reader sees them.
class Param {
 public:
  Param(std::nullptr_t) {}
  Param(const char* s) : v_(s) {}
  Param(std::string s) : v_(std::move(s)) {}
  Param(std::string_view s) : v_(std::string(s)) {}
  Param(bool b) : v_(b ? "true" : "false") {}
  Param(int v) : v_(std::to_string(v)) {}
  Param(long v) : v_(std::to_string(v)) {}
  Param(long long v) : v_(std::to_string(v)) {}
  Param(unsigned v) : v_(std::to_string(v)) {}
  Param(unsigned long v) : v_(std::to_string(v)) {}
  Param(double v);
  Param(TimePoint t);
  template <typename T>
  Param(const std::optional<T>& o) {
    if (o) v_ = Param(*o).v_;
  }
  const std::optional<std::string>& value() const { return v_; }

 private:
  std::optional<std::string> v_;
};

// "{1,2,3}": a Postgres array literal for `$1::bigint[]` (pqxx 6 has no array parameters).
std::string ArrayLiteral(const std::vector<int64_t>& values);
std::string ArrayLiteral(const std::vector<int32_t>& values);

// ---- results ---------------------------------------------------------------------------------
struct ResultData;

class Field {
 public:
  bool IsNull() const;
  std::string Str() const;  // throws DbError on NULL
  int64_t Int64() const;
  int32_t Int() const;
  double Double() const;
  bool Bool() const;
  TimePoint Time() const;
  std::optional<std::string> OptStr() const;
  std::optional<int64_t> OptInt64() const;
  std::optional<TimePoint> OptTime() const;

 private:
  friend class Result;
  Field(const ResultData* d, std::size_t row, int col) : d_(d), row_(row), col_(col) {}
  const char* Raw() const;
  const ResultData* d_;
  std::size_t row_;
  int col_;
};

class Result;
Result MakeResult(std::shared_ptr<const ResultData> d);

class Result {
 public:
  Result() = default;
  std::size_t Size() const;
  bool Empty() const { return Size() == 0; }
  std::size_t AffectedRows() const;
  Field At(std::size_t row, const char* column) const;
  Field At(std::size_t row, int column) const;

 private:
  friend Result MakeResult(std::shared_ptr<const ResultData> d);
  explicit Result(std::shared_ptr<const ResultData> d) : d_(std::move(d)) {}
  std::shared_ptr<const ResultData> d_;
};

// ---- transactions ----------------------------------------------------------------------------
struct TxState;

class Tx {
 public:
  // Runs a named statement from the catalog.
  Result Exec(const std::string& name, std::initializer_list<Param> params = {});
  Result Exec(const std::string& name, const std::vector<Param>& params);
  // Plain SQL (migrations, DDL, tests). Not for the hot path: named statements are prepared.
  Result ExecRaw(const std::string& sql);
  // NOTIFY sent once per (channel, payload) just before commit: a coalesced hint, never one per
  // row.
  void Notify(const std::string& channel, const std::string& payload = "");
  // Runs after a successful commit, in order (e.g. wake an in-process worker without a round trip).
  void AfterCommit(std::function<void()> fn);
  // Runs inside the transaction just before it commits, in order (write what the transaction's
  // statements accumulated, once).
  void BeforeCommit(std::function<void(Tx&)> fn);
  // One object of type T per transaction attempt, created on first use (state a layer above keeps
  // for the length of one transaction).
  template <typename T>
  T& Local() {
    auto& slot = LocalSlot(typeid(T).name());
    if (!slot) slot = std::make_shared<T>();
    return *static_cast<T*>(slot.get());
  }

 private:
  friend class Connection;
  explicit Tx(TxState* s) : s_(s) {}
  std::shared_ptr<void>& LocalSlot(const char* type);
  TxState* s_;
};

struct ConnectionOptions {
  std::string application_name = "clubos";
  int statement_timeout_ms = 30'000;
  int idle_in_transaction_timeout_ms = 60'000;
  int max_tx_attempts = 5;  // serialization failures, deadlocks, lost connections before commit
  // Reopen a lost connection by itself. Off for sessions that hold session state (advisory locks):
  // their owner must notice the loss.
  bool auto_reconnect = true;
  int connect_timeout_s = 10;
  // How long unacknowledged data may sit on the socket before the connection is given up: what
  // bounds a call to a server whose packets are silently dropped (statement_timeout cannot).
  int tcp_user_timeout_ms = 60'000;
  // As if the URL were declared transaction-pooled (DeclareTransactionPooled): nothing is left in
  // the session. For a connection that must not change a server session it may not own.
  bool transaction_pooled = false;
  // Called in Transact just before COMMIT, with the transaction's name. A test seam: the
  // simulation (simulation/) throws here to crash a "process" before its commit; whatever it
  // throws rolls the transaction back and leaves Transact unretried.
  std::function<void(const std::string& what)> before_commit;
};

class Connection {
 public:
  Connection(std::string url, const Catalog& catalog, ConnectionOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `body` in one transaction and commits. The body may run more than once (retries), so it
  // must only do database work and must not keep state across attempts. `what` names the
  // transaction in errors and logs.
  void Transact(const std::string& what, const std::function<void(Tx&)>& body);
  // One named statement in its own implicit transaction: one round trip, no BEGIN/COMMIT.
  // Not retried on a lost connection: the statement may have committed (CommitUnknown). Behind a
  // transaction pooler it runs as a Transact of one statement instead (its SET LOCAL needs a
  // transaction), retried like one.
  Result ExecOne(const std::string& name, std::initializer_list<Param> params = {});
  Result ExecOne(const std::string& name, const std::vector<Param>& params);
  // Plain SQL, autocommitted (VACUUM, tools); behind a transaction pooler without a timeout.
  Result ExecRawOne(const std::string& sql);
  // Plain SQL with parameters, autocommitted (test doubles and tools; the product uses named
  // statements).
  Result ExecSql(const std::string& sql, const std::vector<Param>& params);

  void Reconnect();
  int BackendPid();
  const std::string& url() const { return url_; }

 private:
  void Open();
  void EnsureOpen();
  std::string url_;
  const Catalog& catalog_;
  ConnectionOptions options_;
  const bool pooled_;  // IsTransactionPooled(url_) when opened
  // Behind a transaction pooler, what each transaction begins with: its timeouts, SET LOCAL.
  const std::string pooled_setup_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens a connection with the built-in catalog.
std::unique_ptr<Connection> Connect(const std::string& url, ConnectionOptions options = {});

// `url` with bounds on how long a dead network can block a call (connect_timeout, TCP keepalives,
// tcp_user_timeout) and the application name, where the URL does not set them itself.
std::string WithNetworkDefaults(const std::string& url, const ConnectionOptions& options);

// URLs that reach Postgres through a pooler in transaction mode (PgBouncer's
// pool_mode=transaction), declared once at start-up, before any connection to them opens (`clubos
// worker` and `clubos serve` find out with BehindTransactionPooler). A connection to such a URL
// keeps no state in its session, since the next transaction may run on another server session:
// - it prepares nothing: each named statement is sent with its parameters and parsed in that round
//   trip (PQexecParams; PgBouncer 1.18, Debian 12's, cannot carry named prepared statements);
// - it sets no session variables: each Transact bounds itself with SET LOCAL (one round trip
//   more), and ExecOne runs as a Transact of one statement;
// - callers keep LISTEN and leadership off it (workers::Runtime: a direct listen URL or polling,
//   and a lease row instead of a session advisory lock).
void DeclareTransactionPooled(const std::string& url);
bool IsTransactionPooled(const std::string& url);
// Where a process LISTENs for `database_url`'s notifications: `listen_url` when given, else
// database_url itself, or "" (nothing: poll) when that is transaction-pooled.
std::string ListenUrlFor(const std::string& database_url, const std::string& listen_url);

// Whether `url` reaches Postgres through a pooler in transaction (or statement) mode, where a
// session's state (the statements each connection prepares, LISTEN, the leader's advisory lock)
// does not outlive a transaction: ClubOS would accept messages and never route them. Two
// connections each hold a transaction open, so that they sit on different server sessions, and
// end them so that the first one's session is the most recently freed (PgBouncer hands that out
// next); the second's next transaction then lands on it. On a real session a connection's backend
// never changes. Eight rounds, since another client may take that session first. Throws DbError
// when the database cannot be asked (ConnectionLost or CommitUnknown when a connection was lost
// meanwhile: ask again). A pooler that hands out servers round-robin rather than most-recently-
// freed first may go unnoticed: CLUBOS_DATABASE_POOLING=transaction declares it instead.
bool BehindTransactionPooler(const std::string& url);

}  // namespace clubos::store
