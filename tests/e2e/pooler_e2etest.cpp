// ClubOS behind a real PgBouncer (Debian's, 1.18). In session mode it works as on a direct
// connection. In transaction mode a session's state does not outlive a transaction (the
// statements each connection prepares, LISTEN, the leader's advisory lock): a chaos run found
// intake answering 202 and /readyz green while nothing was ever routed. Until ClubOS runs in that
// mode, `clubos worker` and `clubos serve` refuse such a URL at start, with the reason.
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
#include <string>
#include <thread>
#include <vector>

#include "store/db.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/queue.h"

extern char** environ;

using namespace clubos;

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

TEST(Pooler, WorkerAndServeRefuseTransactionPoolingAtStart) {
  REQUIRE_PGBOUNCER();
  auto db = pgtest::Connect();
  PgBouncer bouncer(*db);
  ASSERT_TRUE(bouncer.running()) << "pgbouncer did not start";
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"worker", "--concurrency", "1"},
        std::vector<std::string>{"serve", "--port", "0", "--insecure-dev", "--facility", "fake",
                                 "--config",
                                 std::string(CLUBOS_SOURCE_DIR) + "/config/clubos.example.json"}}) {
    const pid_t pid = pgtest::SpawnClubos(
        cmd, {"CLUBOS_DATABASE_URL=" + bouncer.Url("tx"), "CLUBOS_LOG_LEVEL=error"});
    ASSERT_GT(pid, 0);
    int code = -1;
    const bool ended = pgtest::WaitFor(
        [&] {
          int status = 0;
          if (::waitpid(pid, &status, WNOHANG) != pid) return false;
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        },
        Millis(15'000));
    if (!ended) {
      ::kill(pid, SIGKILL);
      pgtest::WaitExit(pid);
    }
    EXPECT_TRUE(ended) << cmd[0] << " started through a transaction pooler";
    EXPECT_EQ(code, 1) << cmd[0];
  }
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
