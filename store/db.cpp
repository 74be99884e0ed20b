#include "store/db.h"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "core/log.h"
#include "core/time_format.h"
#include "store/catalog.h"

namespace clubos::store {

struct ResultData {
  pqxx::result r;
};

struct TxState {
  pqxx::transaction_base* tx = nullptr;
  // Behind a transaction pooler: statements are sent with their text (DeclareTransactionPooled).
  const Catalog* unprepared = nullptr;
  std::set<std::pair<std::string, std::string>> notifies;
  std::vector<std::function<void()>> after_commit;
  std::vector<std::function<void(Tx&)>> before_commit;
  std::map<std::string, std::shared_ptr<void>> locals;
};

namespace {

// One place that turns libpqxx's exceptions into ours.
[[noreturn]] void Rethrow(const std::string& what) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    throw CommitUnknown(what + ": commit outcome unknown: " + e.what());
  } catch (const pqxx::broken_connection& e) {
    throw ConnectionLost(what + ": connection lost: " + e.what());
  } catch (const pqxx::transaction_rollback& e) {  // serialization_failure, deadlock_detected
    throw TxConflict(what + ": " + e.what(), "40001");
  } catch (const pqxx::integrity_constraint_violation& e) {
    throw ConstraintViolation(what + ": " + e.what(), e.sqlstate());
  } catch (const pqxx::sql_error& e) {
    throw DbError(what + ": " + e.what(), e.sqlstate());
  } catch (const pqxx::usage_error& e) {
    throw DbError(what + ": usage: " + e.what());
  } catch (const pqxx::failure& e) {
    throw DbError(what + ": " + e.what());
  }
  throw;  // not a libpqxx exception: pass it on unchanged
}

// Parameters travel as C strings: one with a NUL inside would end there, silently (a booking id
// "nul\0id" was stored as "nul"). Text cannot hold a NUL anyway; this is the error Postgres gives
// for one (22021, character_not_in_repertoire, a data exception the API answers 400).
std::vector<const char*> RawParams(const std::vector<Param>& params) {
  std::vector<const char*> raw;
  raw.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& v = params[i].value();
    if (v && v->find('\0') != std::string::npos)
      throw DbError("parameter $" + std::to_string(i + 1) + " contains a NUL character", "22021");
    raw.push_back(v ? v->c_str() : nullptr);
  }
  return raw;
}

Result Wrap(pqxx::result r) {
  return MakeResult(std::make_shared<const ResultData>(ResultData{std::move(r)}));
}

template <typename T>
std::string ArrayLiteralOfNumbers(const std::vector<T>& values) {
  std::string s = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(values[i]);
  }
  s += '}';
  return s;
}

}  // namespace

Result MakeResult(std::shared_ptr<const ResultData> d) {
  return Result(std::move(d));
}

// ---- Param -----------------------------------------------------------------------------------
Param::Param(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  v_ = buf;
}
Param::Param(TimePoint t) : v_(FormatTimestamp(t)) {}

std::string ArrayLiteral(const std::vector<int64_t>& values) {
  return ArrayLiteralOfNumbers(values);
}
std::string ArrayLiteral(const std::vector<int32_t>& values) {
  return ArrayLiteralOfNumbers(values);
}

// ---- Field / Result --------------------------------------------------------------------------
const char* Field::Raw() const {
  const auto& f = d_->r[static_cast<pqxx::result::size_type>(row_)][col_];
  if (f.is_null())
    throw DbError(std::string("unexpected NULL in column ") + d_->r.column_name(col_));
  return f.c_str();
}
bool Field::IsNull() const {
  return d_->r[static_cast<pqxx::result::size_type>(row_)][col_].is_null();
}
std::string Field::Str() const {
  return Raw();
}
int64_t Field::Int64() const {
  return std::strtoll(Raw(), nullptr, 10);
}
int32_t Field::Int() const {
  return static_cast<int32_t>(std::strtol(Raw(), nullptr, 10));
}
double Field::Double() const {
  return std::strtod(Raw(), nullptr);
}
bool Field::Bool() const {
  return Raw()[0] == 't';
}
TimePoint Field::Time() const {
  auto t = ParseTimestamp(Raw());
  if (!t) throw DbError(std::string("malformed timestamp ") + Raw());
  return *t;
}
std::optional<std::string> Field::OptStr() const {
  if (IsNull()) return std::nullopt;
  return Str();
}
std::optional<int64_t> Field::OptInt64() const {
  if (IsNull()) return std::nullopt;
  return Int64();
}
std::optional<TimePoint> Field::OptTime() const {
  if (IsNull()) return std::nullopt;
  return Time();
}

std::size_t Result::Size() const {
  return d_ ? d_->r.size() : 0;
}
std::size_t Result::AffectedRows() const {
  return d_ ? d_->r.affected_rows() : 0;
}
Field Result::At(std::size_t row, const char* column) const {
  return Field(d_.get(), row, static_cast<int>(d_->r.column_number(column)));
}
Field Result::At(std::size_t row, int column) const {
  return Field(d_.get(), row, column);
}

// ---- Tx --------------------------------------------------------------------------------------
Result Tx::Exec(const std::string& name, std::initializer_list<Param> params) {
  return Exec(name, std::vector<Param>(params));
}
Result Tx::Exec(const std::string& name, const std::vector<Param>& params) {
  try {
    if (s_->unprepared) {
      const auto& statements = s_->unprepared->Statements();
      const auto it = statements.find(name);
      if (it == statements.end()) throw DbError(name + ": no such statement in the catalog");
      return Wrap(
          s_->tx->exec_params(it->second, pqxx::prepare::make_dynamic_params(RawParams(params))));
    }
    return Wrap(s_->tx->exec_prepared(name, pqxx::prepare::make_dynamic_params(RawParams(params))));
  } catch (...) {
    Rethrow(name);
  }
}
Result Tx::ExecRaw(const std::string& sql) {
  try {
    return Wrap(s_->tx->exec(sql));
  } catch (...) {
    Rethrow("sql");
  }
}
void Tx::Notify(const std::string& channel, const std::string& payload) {
  s_->notifies.emplace(channel, payload);
}
void Tx::BeforeCommit(std::function<void(Tx&)> fn) {
  s_->before_commit.push_back(std::move(fn));
}
std::shared_ptr<void>& Tx::LocalSlot(const char* type) {
  return s_->locals[type];
}
void Tx::AfterCommit(std::function<void()> fn) {
  s_->after_commit.push_back(std::move(fn));
}

// ---- Connection ------------------------------------------------------------------------------
namespace {
// A COMMIT whose wait for a synchronous standby was cancelled (a statement_timeout, a cancel)
// still answers success, with only this warning: the transaction is on the primary and may not be
// on any standby, so a failover can lose it. It is in doubt, not done.
class UnreplicatedCommitWatch final : public pqxx::errorhandler {
 public:
  explicit UnreplicatedCommitWatch(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    if (std::strstr(msg, "might not have been replicated")) seen = true;
    return true;
  }
  [[noreturn]] static void Throw(const std::string& what) {
    throw CommitUnknown(what +
                        ": committed on the primary, but its wait for the synchronous standby was "
                        "cancelled: a failover may lose it");
  }
  bool seen = false;
};
}  // namespace

struct Connection::Impl {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<UnreplicatedCommitWatch> watch;  // unregisters before the connection goes
};

namespace {
std::mutex pooled_mu;
std::set<std::string>& PooledUrls() {
  static std::set<std::string> urls;
  return urls;
}
}  // namespace

void DeclareTransactionPooled(const std::string& url) {
  std::lock_guard lk(pooled_mu);
  PooledUrls().insert(url);
}

bool IsTransactionPooled(const std::string& url) {
  std::lock_guard lk(pooled_mu);
  return PooledUrls().count(url) != 0;
}

std::string ListenUrlFor(const std::string& database_url, const std::string& listen_url) {
  if (!listen_url.empty()) return listen_url;
  return IsTransactionPooled(database_url) ? "" : database_url;
}

Connection::Connection(std::string url, const Catalog& catalog, ConnectionOptions options)
    : url_(std::move(url)),
      catalog_(catalog),
      options_(std::move(options)),
      pooled_(options_.transaction_pooled || IsTransactionPooled(url_)),
      pooled_setup_(pooled_ ? "SET LOCAL statement_timeout = " +
                                  std::to_string(options_.statement_timeout_ms) +
                                  "; SET LOCAL idle_in_transaction_session_timeout = " +
                                  std::to_string(options_.idle_in_transaction_timeout_ms)
                            : ""),
      impl_(new Impl) {
  Open();
}
Connection::~Connection() = default;

namespace {
// Whether a conninfo (URI or key=value) sets `key` itself: `key=` at its start or after '?', '&'
// or a space (so that fallback_application_name= is not application_name=).
bool SetsKey(const std::string& url, const std::string& key) {
  const std::string k = key + "=";
  for (std::size_t at = url.find(k); at != std::string::npos; at = url.find(k, at + 1))
    if (at == 0 || url[at - 1] == '?' || url[at - 1] == '&' || url[at - 1] == ' ') return true;
  return false;
}
}  // namespace

// The server's statement_timeout cannot help when packets are silently dropped. Values here are
// numbers and names of [a-z-] (the application names of this code), which need no escaping in
// either form.
std::string WithNetworkDefaults(const std::string& url, const ConnectionOptions& o) {
  const bool uri = url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
  // The application name travels in the start-up packet too: a pooler in transaction mode (which
  // a SET would outlive) passes it on.
  const std::pair<const char*, std::string> defaults[] = {
      {"application_name", o.application_name},
      {"connect_timeout", std::to_string(o.connect_timeout_s)},
      {"keepalives", "1"},
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
      {"tcp_user_timeout", std::to_string(o.tcp_user_timeout_ms)}};
  std::string out = url;
  for (const auto& [key, value] : defaults) {
    if (value.empty() || SetsKey(url, key)) continue;
    if (uri)
      out += (out.find('?') == std::string::npos ? "?" : "&") + std::string(key) + "=" + value;
    else
      out += " " + std::string(key) + "=" + value;
  }
  return out;
}

void Connection::EnsureOpen() {
  if (impl_->conn && impl_->conn->is_open()) return;
  if (impl_->conn && !options_.auto_reconnect)
    throw ConnectionLost("connection lost, and this session does not reconnect by itself");
  Open();
}

void Connection::Open() {
  try {
    impl_->watch.reset();
    impl_->conn.reset();
    auto c = std::make_unique<pqxx::connection>(WithNetworkDefaults(url_, options_));
    // libpqxx 6 would silently reopen a broken connection on next use, dropping session state
    // (advisory locks, LISTEN) behind our back; we reconnect explicitly instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored \
    "-Wdeprecated-declarations"  // deprecated in 6, gone with reactivation in 7
    c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    if (!pooled_) {  // behind a transaction pooler, each Transact sets them (SET LOCAL)
      // Also set on the session, over an application_name the URL may give (as always before).
      c->set_variable("application_name", c->quote(options_.application_name));
      c->set_variable("statement_timeout", std::to_string(options_.statement_timeout_ms));
      c->set_variable("idle_in_transaction_session_timeout",
                      std::to_string(options_.idle_in_transaction_timeout_ms));
      for (const auto& [name, sql] : catalog_.Statements()) c->prepare(name, sql);
    }
    impl_->watch = std::make_unique<UnreplicatedCommitWatch>(*c);
    impl_->conn = std::move(c);
  } catch (...) {
    Rethrow("connect");
  }
}

void Connection::Reconnect() {
  Open();
}

int Connection::BackendPid() {
  return impl_->conn->backendpid();
}

void Connection::Transact(const std::string& what, const std::function<void(Tx&)>& body) {
  // Jitter for conflict retries only; not the job backoff (that one is seeded and injected).
  thread_local std::minstd_rand rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    TxState state;
    bool committing = false;
    try {
      EnsureOpen();
      pqxx::work w(*impl_->conn, what);
      state.tx = &w;
      if (pooled_) {
        state.unprepared = &catalog_;
        w.exec(pooled_setup_);
      }
      Tx tx(&state);
      body(tx);
      for (std::size_t i = 0; i < state.before_commit.size(); ++i) state.before_commit[i](tx);
      for (const auto& [channel, payload] : state.notifies)
        w.exec_params("SELECT pg_notify($1, $2)", channel, payload);
      if (options_.before_commit) options_.before_commit(what);
      committing = true;
      impl_->watch->seen = false;
      w.commit();
      if (impl_->watch->seen) impl_->watch->Throw(what);
    } catch (const pqxx::in_doubt_error& e) {
      throw CommitUnknown(what + ": commit outcome unknown: " + e.what());
    } catch (const pqxx::broken_connection& e) {
      if (committing) throw CommitUnknown(what + ": connection lost during commit: " + e.what());
      if (attempt >= options_.max_tx_attempts || !options_.auto_reconnect)
        throw ConnectionLost(what + ": " + e.what());
      log::Get()->warn("tx {} lost its connection (attempt {}), reconnecting", what, attempt);
      try {
        Open();
      } catch (const ConnectionLost&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
      }
      continue;
    } catch (const pqxx::transaction_rollback& e) {
      if (attempt >= options_.max_tx_attempts) throw TxConflict(what + ": " + e.what(), "40001");
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % (500 * attempt)));
      continue;
    } catch (const DbError& e) {
      // Raised by Tx::Exec for a statement; classes of retryable errors arrive here already mapped.
      if (dynamic_cast<const TxConflict*>(&e) && attempt < options_.max_tx_attempts) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % (500 * attempt)));
        continue;
      }
      if (dynamic_cast<const ConnectionLost*>(&e) && attempt < options_.max_tx_attempts &&
          options_.auto_reconnect) {
        try {
          Open();
        } catch (const ConnectionLost&) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
        }
        continue;
      }
      throw;
    } catch (const pqxx::failure&) {
      Rethrow(what);
    }
    // Committed: nothing after this point may make the caller think otherwise (an intake batch
    // would store its texts again one by one). A hook that throws is logged, and the others run.
    for (auto& fn : state.after_commit) {
      try {
        fn();
      } catch (const std::exception& e) {
        log::Get()->error("tx {}: an after-commit step failed after the commit: {}", what,
                          e.what());
      } catch (...) {
        log::Get()->error("tx {}: an after-commit step failed after the commit", what);
      }
    }
    return;
  }
}

Result Connection::ExecOne(const std::string& name, std::initializer_list<Param> params) {
  return ExecOne(name, std::vector<Param>(params));
}
Result Connection::ExecOne(const std::string& name, const std::vector<Param>& params) {
  if (pooled_) {
    // Its timeout needs a transaction to be local to; one that is lost before its commit did
    // nothing, so this one is retried where the single statement could not be.
    Result out;
    Transact(name, [&](Tx& tx) { out = tx.Exec(name, params); });
    return out;
  }
  try {
    EnsureOpen();
    pqxx::nontransaction n(*impl_->conn, name);
    impl_->watch->seen = false;
    auto r = Wrap(n.exec_prepared(name, pqxx::prepare::make_dynamic_params(RawParams(params))));
    if (impl_->watch->seen) impl_->watch->Throw(name);
    return r;
  } catch (const pqxx::broken_connection& e) {
    throw CommitUnknown(name + ": connection lost, outcome unknown: " + e.what());
  } catch (...) {
    Rethrow(name);
  }
}
Result Connection::ExecRawOne(const std::string& sql) {
  try {
    EnsureOpen();
    pqxx::nontransaction n(*impl_->conn, "raw");
    return Wrap(n.exec(sql));
  } catch (...) {
    Rethrow("sql");
  }
}

Result Connection::ExecSql(const std::string& sql, const std::vector<Param>& params) {
  try {
    EnsureOpen();
    pqxx::nontransaction n(*impl_->conn, "sql");
    return Wrap(n.exec_params(sql, pqxx::prepare::make_dynamic_params(RawParams(params))));
  } catch (...) {
    Rethrow("sql");
  }
}

std::unique_ptr<Connection> Connect(const std::string& url, ConnectionOptions options) {
  return std::make_unique<Connection>(url, Catalog::Builtin(), std::move(options));
}

bool BehindTransactionPooler(const std::string& url) {
  ConnectionOptions o;
  o.application_name = "clubos-session-check";
  // A connection that reopened by itself (on another host of a multi-host URI, say) would show
  // another backend without any pooler: a lost connection is an error here, for the caller to
  // retry, never a verdict.
  o.auto_reconnect = false;
  o.max_tx_attempts = 1;
  o.transaction_pooled = true;  // no SET on a server session that other clients may get next
  static const Catalog kNoStatements{};  // nothing to prepare: that is what might not survive
  Connection first(url, kNoStatements, o), second(url, kNoStatements, o);
  auto pid = [](Tx& tx) { return tx.ExecRaw("SELECT pg_backend_pid()").At(0, 0).Int64(); };
  // Another client of the pooler may take the session freed last before `second` asks again (two
  // workers starting at once: one of them once ran with prepared statements through PgBouncer in
  // transaction mode). A session never changes, so one change in a few rounds is the verdict.
  for (int round = 0; round < 8; ++round) {
    int64_t before = 0, after = 0;
    first.Transact("session_check", [&](Tx& a) {
      pid(a);
      second.Transact("session_check", [&](Tx& b) { before = pid(b); });
    });  // `first`'s server session is freed last
    second.Transact("session_check", [&](Tx& b) { after = pid(b); });
    if (before != after) return true;
  }
  return false;
}

}  // namespace clubos::store
