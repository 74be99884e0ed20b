// ClubOS behind a real PgBouncer (Debian's, 1.18). In session mode it works as on a direct
// connection. In transaction mode a session's state does not outlive a transaction (the
// statements each connection prepares, LISTEN, the leader's advisory lock): a chaos run found
// intake answering 202 and /readyz green while nothing was ever routed. Now `clubos worker` and
// `clubos serve` find such a pooler at start and keep nothing in their sessions there
// (store::DeclareTransactionPooled): statements unprepared, leadership by lease row, LISTEN on a
// direct URL or none (polling).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "integrations/http.h"
#include "store/db.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/queue.h"

extern char** environ;

using namespace clubos;
using nlohmann::json;
using pgtest::WaitFor;

namespace {

constexpr const char* kPgBouncer = "/usr/sbin/pgbouncer";

// A PgBouncer in front of the test's database with two names for it: `<db>_tx` pooled by
// transaction and `<db>_session` by session. It refuses to run as root: then it runs as postgres.
class PgBouncer {
 public:
  PgBouncer(store::Connection& db) {
    const auto r =
        db.ExecRawOne("SELECT current_user AS u, current_database() AS d, inet_server_port() AS p");
    user_ = r.At(0, "u").Str();
    db_ = r.At(0, "d").Str();
    const int pg_port = r.At(0, "p").Int();
    char tmpl[] = "/tmp/clubos-pgbouncer-XXXXXX";
    if (!::mkdtemp(tmpl)) return;
    dir_ = tmpl;
    const passwd* pg = ::geteuid() == 0 ? ::getpwnam("postgres") : nullptr;
    if (::geteuid() == 0 && (!pg || ::chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) != 0)) return;
    std::ofstream(dir_ + "/userlist.txt") << "\"" << user_ << "\" \"\"\n";
    // A port found free can be taken before the bind: a few tries.
    for (int attempt = 0; attempt < 5 && !pid_; ++attempt) {
      port_ = pgtest::FreePort();
      const std::string target =
          "host=127.0.0.1 port=" + std::to_string(pg_port) + " dbname=" + db_;
      std::ofstream(dir_ + "/pgbouncer.ini")
          << "[databases]\n"
          << db_ << "_tx = " << target << " pool_mode=transaction\n"
          << db_ << "_session = " << target << " pool_mode=session\n"
          << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_
          << "\nunix_socket_dir =\nauth_type = trust\nauth_file = " << dir_
          << "/userlist.txt\nlogfile = " << dir_ << "/pgbouncer.log\n"
          << "max_client_conn = 200\ndefault_pool_size = 40\n";
      if (pg) {
        (void)::chown((dir_ + "/pgbouncer.ini").c_str(), pg->pw_uid, pg->pw_gid);
        (void)::chown((dir_ + "/userlist.txt").c_str(), pg->pw_uid, pg->pw_gid);
      }
      std::vector<std::string> argv = {kPgBouncer, dir_ + "/pgbouncer.ini"};
      if (pg)
        argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                   "--init-groups", "--"});
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      pid_t pid = -1;
      if (::posix_spawn(&pid, raw[0], nullptr, nullptr, raw.data(), environ) != 0) continue;
      const bool up = pgtest::WaitFor(
          [&] {
            if (::waitpid(pid, nullptr, WNOHANG) == pid) return true;  // exited: port taken?
            try {
              store::Connect(Url("session"))->ExecRawOne("SELECT 1");
              return true;
            } catch (const std::exception&) {
              return false;
            }
          },
          Millis(10'000));
      if (up && ::kill(pid, 0) == 0)
        pid_ = pid;
      else
        ::kill(pid, SIGKILL);
    }
  }
  ~PgBouncer() {
    if (pid_) {
      ::kill(pid_, SIGTERM);
      pgtest::WaitExit(pid_);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  bool running() const { return pid_ > 0; }
  // mode: "tx" or "session"
  std::string Url(const std::string& mode) const {
    return "postgresql://" + user_ + "@127.0.0.1:" + std::to_string(port_) + "/" + db_ + "_" +
           mode + "?connect_timeout=5";
  }

 private:
  std::string user_, db_, dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

#define REQUIRE_PGBOUNCER()                                                        \
  do {                                                                             \
    CLUBOS_REQUIRE_PG();                                                           \
    if (::access(kPgBouncer, X_OK) != 0) {                                         \
      if (pgtest::InCi()) FAIL() << "CI=true but " << kPgBouncer << " is missing"; \
      GTEST_SKIP() << kPgBouncer << " is missing (apt-get install pgbouncer)";     \
    }                                                                              \
  } while (0)

}  // namespace

TEST(Pooler, TransactionPoolingIsToldApartFromASession) {
  REQUIRE_PGBOUNCER();
  auto db = pgtest::Connect();
  PgBouncer bouncer(*db);
  ASSERT_TRUE(bouncer.running()) << "pgbouncer did not start";
  EXPECT_FALSE(store::BehindTransactionPooler(pgtest::TestDatabaseUrl())) << "direct";
  EXPECT_FALSE(store::BehindTransactionPooler(bouncer.Url("session")));
  EXPECT_TRUE(store::BehindTransactionPooler(bouncer.Url("tx")));
}

namespace {

constexpr const char* kService = "svc-token-0123456789";
constexpr const char* kOperator = "op-token-0123456789";

integrations::HttpResponse Call(uint16_t port, const std::string& method, const std::string& path,
                                const std::string& token, const std::string& body = "") {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token}};
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return integrations::Send({.method = method,
                             .url = "http://127.0.0.1:" + std::to_string(port) + path,
                             .headers = headers,
                             .body = body});
}

std::optional<std::string> LeaseOwner(store::Connection& db) {
  const auto r = db.ExecRawOne("SELECT owner FROM leader_lease WHERE expires_at > now()");
  if (r.Empty()) return std::nullopt;
  return r.At(0, 0).Str();
}

int Records(store::Connection& db) {
  return db.ExecRawOne("SELECT count(*) FROM selftest_records").At(0, 0).Int();
}

void EnqueueRecords(store::Connection& db, int n, std::optional<TimePoint> run_at = std::nullopt) {
  db.Transact("enqueue", [&](store::Tx& tx) {
    for (int i = 0; i < n; ++i)
      workers::Enqueue(tx, {.kind = "selftest.record", .run_at = run_at}, SystemClock::Instance());
  });
}

}  // namespace

// What the chaos run found broken, through transaction pooling: a customer's text is routed (after
// the example configuration's 3 s wait for more typing: a timer the leader promotes, leading by
// lease row), acted on once confirmed and verified; serve, with nothing to LISTEN on, polls. On
// SIGTERM it exits 0 and gives the lease up.
TEST(Pooler, ATextGoesThroughTheFlowBehindTransactionPooling) {
  REQUIRE_PGBOUNCER();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  PgBouncer bouncer(*db);
  ASSERT_TRUE(bouncer.running()) << "pgbouncer did not start";
  int out = -1;
  const pid_t pid = pgtest::SpawnClubosWithStdout(
      {"serve", "--port", "0", "--workers", "2", "--facility", "fake", "--config",
       std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"},
      {"CLUBOS_DATABASE_URL=" + bouncer.Url("tx"), "CLUBOS_LOG_LEVEL=warn",
       std::string("CLUBOS_API_TOKENS=service:svc:") + kService + ",operator:ann:" + kOperator},
      &out);
  ASSERT_GT(pid, 0);
  const uint16_t port = pgtest::ReadServePort(out);
  ASSERT_NE(port, 0) << "serve did not say where it listens";
  EXPECT_EQ(Call(port, "GET", "/readyz", "").status, 200);

  auto r = Call(
      port, "POST", "/v1/messages", kService,
      R"({"from":"+15555550100","to":"+15555550199","body":"the trackman in bay 3 is frozen"})");
  ASSERT_EQ(r.status, 202) << r.body;
  const int64_t thread = json::parse(r.body)["thread_id"].get<int64_t>();
  auto state = [&] {
    return db->ExecSql("SELECT state FROM threads WHERE id = $1", {thread}).At(0, 0).Str();
  };
  ASSERT_TRUE(WaitFor([&] { return state() == "awaiting_confirmation"; }, Millis(20'000)))
      << state();
  const auto owner = LeaseOwner(*db);
  ASSERT_TRUE(owner.has_value()) << "nobody holds the leader lease";
  EXPECT_EQ(owner->rfind("serve", 0), 0u) << *owner;
  const int64_t action =
      db->ExecSql("SELECT id FROM actions WHERE thread_id = $1 AND kind = 'reset_trackman'",
                  {thread})
          .At(0, 0)
          .Int64();
  r = Call(port, "POST", "/v1/actions/" + std::to_string(action) + "/confirm", kOperator);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(WaitFor([&] { return state() == "verified"; }, Millis(20'000))) << state();

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(pgtest::WaitExit(pid), 0);
  ::close(out);
  EXPECT_EQ(db->ExecRawOne("SELECT count(*) FROM leader_lease").At(0, 0).Int(), 0)
      << "the lease was not given up";
}

// Two workers through transaction pooling, one woken through a direct listen URL and one
// polling, and a third on a direct connection (a move to the pooler under way): one of them leads
// (the lease row; the direct one also by its advisory lock, never beside another), renewing its
// lease; jobs due now and due later all run once; when the leader is killed with SIGKILL another
// one leads, promoting the timers that come due after.
TEST(Pooler, WorkersBehindTransactionPoolingShareOneLeaseAndTakeOverWhenTheLeaderDies) {
  REQUIRE_PGBOUNCER();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  pgtest::ResetSelftestRecords(*db);
  PgBouncer bouncer(*db);
  ASSERT_TRUE(bouncer.running()) << "pgbouncer did not start";
  const std::vector<std::string> env = {"CLUBOS_DATABASE_URL=" + bouncer.Url("tx"),
                                        "CLUBOS_SELFTEST=1", "CLUBOS_LOG_LEVEL=error"};
  auto listening = env;
  listening.push_back("CLUBOS_LISTEN_DATABASE_URL=" + pgtest::TestDatabaseUrl());
  const std::vector<std::string> direct = {"CLUBOS_DATABASE_URL=" + pgtest::TestDatabaseUrl(),
                                           "CLUBOS_SELFTEST=1", "CLUBOS_LOG_LEVEL=error"};
  auto spawn = [](const std::string& name, const std::vector<std::string>& e) {
    return pgtest::SpawnClubos({"worker", "--concurrency", "2", "--name", name}, e);
  };
  std::map<std::string, pid_t> workers = {{"pool-a", spawn("pool-a", env)},
                                          {"pool-b", spawn("pool-b", listening)},
                                          {"direct-c", spawn("direct-c", direct)}};
  for (const auto& [name, pid] : workers) ASSERT_GT(pid, 0) << name;
  struct Reap {
    std::map<std::string, pid_t>& w;
    ~Reap() {
      for (auto& [name, pid] : w)
        if (pid > 0) {
          ::kill(pid, SIGKILL);
          pgtest::WaitExit(pid);
        }
    }
  } reap{workers};
  auto name_of = [&](const std::string& owner) {
    for (const auto& [name, pid] : workers)
      if (owner.rfind(name + "-", 0) == 0) return name;
    return std::string("?");
  };
  // Sessions holding the leader's advisory lock: only a direct worker's, and only while it leads.
  auto lock_holders = [&] {
    return db
        ->ExecRawOne(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 727002 AND "
            "granted AND database = (SELECT oid FROM pg_database WHERE datname = "
            "current_database())")
        .At(0, 0)
        .Int();
  };

  EnqueueRecords(*db, 50);
  EnqueueRecords(*db, 10, SystemClock::Instance().Now() + Millis(1'500));
  EXPECT_TRUE(WaitFor([&] { return Records(*db) == 60; }, Millis(20'000))) << Records(*db);
  EXPECT_EQ(db->ExecRawOne("SELECT count(DISTINCT job_id) FROM selftest_records").At(0, 0).Int(),
            60);
  const auto owner = LeaseOwner(*db);
  ASSERT_TRUE(owner.has_value()) << "nobody holds the leader lease";
  const std::string leader = name_of(*owner);
  ASSERT_NE(leader, "?") << *owner;
  EXPECT_EQ(lock_holders(), leader == "direct-c" ? 1 : 0) << leader << " leads";
  // Renewed every third of its 15 s: the same owner, a later expiry.
  const auto expiry = [&] {
    return db->ExecRawOne("SELECT owner || ' ' || expires_at::text FROM leader_lease")
        .At(0, 0)
        .Str();
  };
  const std::string first = expiry();
  EXPECT_TRUE(WaitFor([&] { return expiry() != first; }, Millis(8'000))) << first;
  EXPECT_EQ(LeaseOwner(*db).value_or(""), *owner) << "the lease changed hands";

  ::kill(workers[leader], SIGKILL);
  pgtest::WaitExit(workers[leader]);
  workers[leader] = 0;
  EnqueueRecords(*db, 5, SystemClock::Instance().Now() + Millis(500));
  // A pooled leader's lease (15 s) runs out first; a direct leader's lock goes with its session.
  EXPECT_TRUE(WaitFor([&] { return Records(*db) == 65; }, Millis(30'000))) << Records(*db);
  const auto next = LeaseOwner(*db);
  ASSERT_TRUE(next.has_value()) << "nobody took the lease over";
  const std::string successor = name_of(*next);
  EXPECT_NE(successor, leader);
  EXPECT_NE(successor, "?") << *next;
  EXPECT_EQ(lock_holders(), successor == "direct-c" ? 1 : 0) << successor << " leads";

  for (auto& [name, pid] : workers) {
    if (!pid) continue;
    ::kill(pid, SIGTERM);
    EXPECT_EQ(pgtest::WaitExit(pid), 0) << name;
    pid = 0;
  }
  EXPECT_EQ(db->ExecRawOne("SELECT count(*) FROM leader_lease").At(0, 0).Int(), 0)
      << "the lease was not given up";
}

// A listen URL through the pooler in transaction mode would LISTEN in vain: refused at start; so
// is a pooling mode ClubOS does not know.
TEST(Pooler, AListenUrlThroughTransactionPoolingAndAnUnknownPoolingAreRefused) {
  REQUIRE_PGBOUNCER();
  auto db = pgtest::Connect();
  PgBouncer bouncer(*db);
  ASSERT_TRUE(bouncer.running()) << "pgbouncer did not start";
  const auto r = pgtest::RunClubos(
      {"worker", "--concurrency", "1"},
      {"CLUBOS_DATABASE_URL=" + bouncer.Url("tx"),
       "CLUBOS_LISTEN_DATABASE_URL=" + bouncer.Url("tx"), "CLUBOS_LOG_LEVEL=error"},
      "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("CLUBOS_LISTEN_DATABASE_URL"), std::string::npos) << r.err;
  const auto bad =
      pgtest::RunClubos({"worker", "--concurrency", "1"},
                        {"CLUBOS_DATABASE_URL=" + bouncer.Url("tx"),
                         "CLUBOS_DATABASE_POOLING=statement", "CLUBOS_LOG_LEVEL=error"},
                        "");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("CLUBOS_DATABASE_POOLING must be auto, transaction or session"),
            std::string::npos)
      << bad.err;
}

TEST(Pooler, AWorkerRunsThroughSessionPooling) {
  REQUIRE_PGBOUNCER();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  pgtest::ResetSelftestRecords(*db);
  db->Transact("enqueue", [&](store::Tx& tx) {
    workers::EnqueueMany(tx,
                         std::vector<workers::EnqueueRequest>(
                             50, workers::EnqueueRequest{.kind = "selftest.record"}),
                         SystemClock::Instance());
  });
  PgBouncer bouncer(*db);
  ASSERT_TRUE(bouncer.running()) << "pgbouncer did not start";
  const pid_t worker = pgtest::SpawnClubos({"worker", "--concurrency", "2", "--poll-ms", "200"},
                                           {"CLUBOS_DATABASE_URL=" + bouncer.Url("session"),
                                            "CLUBOS_SELFTEST=1", "CLUBOS_LOG_LEVEL=error"});
  ASSERT_GT(worker, 0);
  EXPECT_TRUE(pgtest::WaitFor(
      [&] { return db->ExecRawOne("SELECT count(*) FROM selftest_records").At(0, 0).Int() == 50; },
      Millis(20'000)));
  ::kill(worker, SIGTERM);
  EXPECT_EQ(pgtest::WaitExit(worker), 0);
}
