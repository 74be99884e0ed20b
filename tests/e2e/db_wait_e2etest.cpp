// A worker started while Postgres is out of reach waits for it instead of exiting: supervisors
// restart a failing process only so many times (the shipped units: 5 in 120 s), so an outage
// longer than a few restarts used to leave no worker at all. The "database" here is a port the
// test holds bound but not listening (connections refused, as with a stopped server) until it
// starts forwarding it to the test's real Postgres.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/db.h"
#include "tests/support/pg.h"
#include "tests/support/process.h"
#include "workers/queue.h"

using namespace clubos;

namespace {

// A loopback port that refuses connections until Open(), then relays each to `target_port`.
class Outage {
 public:
  explicit Outage(int target_port) : target_port_(target_port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
  }
  ~Outage() {
    stop_ = true;
    if (accept_.joinable()) accept_.join();
    for (auto& t : relays_) t.join();
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

  bool Open() {
    if (::listen(fd_, 64) != 0) return false;
    accept_ = std::thread([this] { AcceptLoop(); });
    return true;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(client);
        if (server >= 0) ::close(server);
        continue;
      }
      relays_.emplace_back([this, client, server] { Relay(client, server); });
    }
  }
  void Relay(int a, int b) {
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buf[16'384];
    while (!stop_) {
      if (::poll(p, 2, 50) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        closed = n <= 0 || ::send(p[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n;
      }
      if (closed) break;
    }
    ::close(a);
    ::close(b);
  }

  int target_port_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_;
  std::vector<std::thread> relays_;  // the accept thread's own until it is joined
};

// The test's database, reached through `port` instead of its own.
std::string UrlThroughPort(store::Connection& db, int port) {
  const auto r = db.ExecRawOne("SELECT current_user AS u, current_database() AS d");
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=" + r.At(0, "u").Str() +
         " dbname=" + r.At(0, "d").Str() + " connect_timeout=2";
}

int ServerPort(store::Connection& db) {
  return db.ExecRawOne("SELECT inet_server_port() AS p").At(0, "p").Int();
}

pid_t SpawnWorker(const std::string& url) {
  return pgtest::SpawnClubos(
      {"worker", "--concurrency", "2", "--poll-ms", "200", "--name", "waiter"},
      {"CLUBOS_DATABASE_URL=" + url, "CLUBOS_SELFTEST=1", "CLUBOS_LOG_LEVEL=error"});
}

// Not exited (kill(pid, 0) would also succeed for a child that exited and is not reaped yet); an
// exited child stays unreaped for WaitExit to read.
bool Alive(pid_t pid) {
  siginfo_t si{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         si.si_pid == 0;
}

}  // namespace

TEST(WorkerStart, WaitsForAnUnreachableDatabaseAndThenWorks) {
  CLUBOS_REQUIRE_PG();
  pgtest::ResetDatabase();
  auto db = pgtest::Connect();
  pgtest::ResetSelftestRecords(*db);
  db->Transact("enqueue", [&](store::Tx& tx) {
    workers::EnqueueMany(
        tx,
        std::vector<workers::EnqueueRequest>(5, workers::EnqueueRequest{.kind = "selftest.record"}),
        SystemClock::Instance());
  });
  Outage outage(ServerPort(*db));
  ASSERT_GT(outage.port(), 0);

  const pid_t worker = SpawnWorker(UrlThroughPort(*db, outage.port()));
  ASSERT_GT(worker, 0);
  // Three refused attempts (at 0, 0.5 and 1.5 s): the old worker had exited 1 at the first.
  std::this_thread::sleep_for(std::chrono::milliseconds(3'000));
  ASSERT_TRUE(Alive(worker)) << "the worker gave up on an unreachable database (exit "
                             << pgtest::WaitExit(worker) << ")";
  EXPECT_EQ(db->ExecRawOne("SELECT count(*) FROM selftest_records").At(0, 0).Int(), 0);

  ASSERT_TRUE(outage.Open());
  const bool done = pgtest::WaitFor(
      [&] { return db->ExecRawOne("SELECT count(*) FROM selftest_records").At(0, 0).Int() == 5; },
      Millis(20'000));
  EXPECT_TRUE(done) << "the worker did not run the queue once the database was back";
  ::kill(worker, SIGTERM);
  EXPECT_EQ(pgtest::WaitExit(worker), 0);
}

TEST(WorkerStart, StopsCleanlyWhileWaitingForTheDatabase) {
  CLUBOS_REQUIRE_PG();
  auto db = pgtest::Connect();
  Outage outage(ServerPort(*db));  // never opened
  ASSERT_GT(outage.port(), 0);
  const pid_t worker = SpawnWorker(UrlThroughPort(*db, outage.port()));
  ASSERT_GT(worker, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
  ASSERT_TRUE(Alive(worker));
  const auto asked = std::chrono::steady_clock::now();
  ::kill(worker, SIGTERM);
  EXPECT_EQ(pgtest::WaitExit(worker), 0) << "SIGTERM during the wait must stop it cleanly";
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(2))
      << "the wait's backoff sleep must not delay a stop";
}

TEST(WorkerStart, RefusesASchemaItDoesNotKnowAtOnce) {
  CLUBOS_REQUIRE_PG();
  // Reachable but wrong: waiting would hide a deployment mistake, so it exits 1 at once.
  const std::string scratch = pgtest::CreateScratchDatabase("dbwait_unmigrated");
  const auto r =
      pgtest::RunClubos({"worker", "--concurrency", "1"},
                        {"CLUBOS_DATABASE_URL=" + scratch, "CLUBOS_LOG_LEVEL=error"}, "");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("clubos migrate"), std::string::npos) << r.err;
}

TEST(WorkerStart, RefusesWhatWaitingCannotCureAtOnce) {
  CLUBOS_REQUIRE_PG();
  // The server answered and refused (here: no such database; likewise a wrong password or a
  // pg_hba.conf rejection): a deployment mistake for the supervisor to report, not an outage.
  auto db = pgtest::Connect();
  const auto r = db->ExecRawOne("SELECT current_user AS u, inet_server_port() AS p");
  const std::string url = "host=127.0.0.1 port=" + std::to_string(r.At(0, "p").Int()) +
                          " user=" + r.At(0, "u").Str() + " dbname=clubos_no_such_database";
  const auto run = pgtest::RunClubos({"worker", "--concurrency", "1"},
                                     {"CLUBOS_DATABASE_URL=" + url, "CLUBOS_LOG_LEVEL=error"}, "");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("does not exist"), std::string::npos) << run.err;
}
