#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "store/db.h"
#include "store/listener.h"
#include "store/pool.h"
#include "tests/support/pg.h"

using namespace clubos;

class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    CLUBOS_REQUIRE_PG();
    conn_ = pgtest::Connect();
    conn_->ExecRawOne(
        "DROP TABLE IF EXISTS store_t; CREATE TABLE store_t (id int PRIMARY KEY, v int NOT NULL)");
    conn_->ExecRawOne("INSERT INTO store_t VALUES (1, 0), (2, 0)");
  }
  std::unique_ptr<store::Connection> conn_;
};

TEST_F(Store, ParamsRoundTripThroughNamedStatements) {
  conn_->Transact("t", [](store::Tx& tx) {
    auto r = tx.ExecRaw(
        "SELECT 42::bigint, 'x'::text, NULL::text, true, '2026-11-21 10:00:00+00'::timestamptz");
    EXPECT_EQ(r.At(0, 0).Int64(), 42);
    EXPECT_EQ(r.At(0, 1).Str(), "x");
    EXPECT_TRUE(r.At(0, 2).IsNull());
    EXPECT_FALSE(r.At(0, 2).OptStr().has_value());
    EXPECT_TRUE(r.At(0, 3).Bool());
    EXPECT_THROW(r.At(0, 2).Str(), store::DbError);
  });
}

// A parameter is sent as a C string: one with a NUL inside would silently end at it. It is refused
// as the data exception Postgres names for a NUL (22021), and nothing is written.
TEST_F(Store, AParameterWithANulIsRefusedNotCutShort) {
  const std::string nul("a\0b", 3);
  try {
    conn_->ExecSql("INSERT INTO store_t VALUES (3, length($1::text))", {nul});
    ADD_FAILURE() << "a parameter with a NUL was sent";
  } catch (const store::DbError& e) {
    EXPECT_EQ(e.sqlstate(), "22021");
  }
  EXPECT_EQ(conn_->ExecRawOne("SELECT count(*) FROM store_t").At(0, 0).Int(), 2);
  EXPECT_EQ(conn_->ExecSql("SELECT $1::text", {std::string("ab")}).At(0, 0).Str(), "ab");
}

TEST_F(Store, ConstraintViolationsAreTypedAndRollBack) {
  EXPECT_THROW(conn_->Transact("dup",
                               [](store::Tx& tx) {
                                 tx.ExecRaw("UPDATE store_t SET v = 5 WHERE id = 1");
                                 tx.ExecRaw("INSERT INTO store_t VALUES (1, 1)");
                               }),
               store::ConstraintViolation);
  EXPECT_EQ(conn_->ExecRawOne("SELECT v FROM store_t WHERE id = 1").At(0, 0).Int(), 0);
}

TEST_F(Store, DeadlocksAreRetriedUntilBothTransactionsCommit) {
  // Two transactions lock the same rows in opposite order; Postgres kills one, Transact retries it.
  std::atomic<int> bodies{0};
  auto run = [&](int first, int second) {
    auto c = pgtest::Connect();
    c->Transact("deadlock", [&](store::Tx& tx) {
      ++bodies;
      tx.ExecRaw("UPDATE store_t SET v = v + 1 WHERE id = " + std::to_string(first));
      tx.ExecRaw("SELECT pg_sleep(0.2)");
      tx.ExecRaw("UPDATE store_t SET v = v + 1 WHERE id = " + std::to_string(second));
    });
  };
  std::thread a(run, 1, 2), b(run, 2, 1);
  a.join();
  b.join();
  EXPECT_EQ(conn_->ExecRawOne("SELECT sum(v) FROM store_t").At(0, 0).Int(), 4);
  EXPECT_GE(bodies.load(), 3) << "one of the two must have been retried";
}

TEST_F(Store, ALostConnectionIsReopenedAndTheTransactionRetried) {
  auto victim = pgtest::Connect();
  const int pid = victim->BackendPid();
  conn_->ExecRawOne("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  victim->Transact("after_kill",
                   [](store::Tx& tx) { tx.ExecRaw("UPDATE store_t SET v = 7 WHERE id = 2"); });
  EXPECT_EQ(conn_->ExecRawOne("SELECT v FROM store_t WHERE id = 2").At(0, 0).Int(), 7);
  EXPECT_NE(victim->BackendPid(), pid);
}

TEST_F(Store, NotifyIsCoalescedAndSentOnlyOnCommit) {
  std::vector<std::string> got;
  store::Listener l(pgtest::TestDatabaseUrl(), "store_test",
                    [&](const std::string&, const std::string& p) { got.push_back(p); });
  conn_->Transact("n", [](store::Tx& tx) {
    for (int i = 0; i < 100; ++i) tx.Notify("store_test", "q");
    tx.Notify("store_test", "other");
  });
  EXPECT_THROW(conn_->Transact("rolled_back",
                               [](store::Tx& tx) {
                                 tx.Notify("store_test", "never");
                                 throw std::runtime_error("abort");
                               }),
               std::runtime_error);
  conn_->Transact("marker", [](store::Tx& tx) { tx.Notify("store_test", "end"); });
  for (int i = 0; i < 200 && (got.empty() || got.back() != "end"); ++i) {
    l.Drain();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"other", "q", "end"}));
}

TEST_F(Store, AfterCommitRunsOnlyAfterACommit) {
  int ran = 0;
  conn_->Transact("ok", [&](store::Tx& tx) { tx.AfterCommit([&] { ++ran; }); });
  EXPECT_THROW(conn_->Transact("fail",
                               [&](store::Tx& tx) {
                                 tx.AfterCommit([&] { ran += 100; });
                                 tx.ExecRaw("SELECT no_such_function()");
                               }),
               store::DbError);
  EXPECT_EQ(ran, 1);
}

// A committed transaction is committed whatever its after-commit steps do: the caller is not told
// otherwise (an intake batch would store its texts again), and the steps after a failing one run.
TEST_F(Store, AFailingAfterCommitStepDoesNotUndoTheCommitsAnswer) {
  conn_->ExecRawOne("CREATE TEMP TABLE after_commit_t (v int)");
  int ran = 0;
  EXPECT_NO_THROW(conn_->Transact("ok", [&](store::Tx& tx) {
    tx.ExecRaw("INSERT INTO after_commit_t VALUES (1)");
    tx.AfterCommit([] { throw std::runtime_error("a hook broke"); });
    tx.AfterCommit([&] { ++ran; });
  }));
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(conn_->ExecRawOne("SELECT count(*) FROM after_commit_t").At(0, 0).Int64(), 1);
}

TEST_F(Store, ListenerReportsALostConnectionAndReconnects) {
  int n = 0;
  store::Listener l(pgtest::TestDatabaseUrl(), "store_test2",
                    [&](const std::string&, const std::string&) { ++n; });
  conn_->ExecRawOne("SELECT pg_terminate_backend(" + std::to_string(l.BackendPid()) + ")");
  bool lost = false;
  for (int i = 0; i < 100 && !lost; ++i) {
    try {
      l.Drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } catch (const store::ConnectionLost&) {
      lost = true;
    }
  }
  ASSERT_TRUE(lost);
  l.Reconnect();
  conn_->Transact("n", [](store::Tx& tx) { tx.Notify("store_test2"); });
  for (int i = 0; i < 200 && n == 0; ++i) {
    l.Drain();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(n, 1);
}

TEST_F(Store, ThePoolReusesConnectionsAndBoundsThem) {
  store::Pool pool(pgtest::TestDatabaseUrl(), 2);
  std::set<int> pids;
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    pids = {a->BackendPid(), b->BackendPid()};
    EXPECT_EQ(pids.size(), 2u);
    EXPECT_EQ(pool.open(), 2);
    EXPECT_THROW(pool.Acquire(std::chrono::milliseconds(50)), store::PoolExhausted);
  }
  EXPECT_EQ(pool.idle(), 2);
  auto again = pool.Acquire();
  EXPECT_EQ(pids.count(again->BackendPid()), 1u) << "a returned connection is reused";
  EXPECT_EQ(pool.open(), 2);
}

TEST_F(Store, APooledConnectionWhoseBackendDiedRecoversOnNextUse) {
  store::Pool pool(pgtest::TestDatabaseUrl(), 1);
  int pid;
  {
    auto c = pool.Acquire();
    pid = c->BackendPid();
  }
  conn_->ExecRawOne("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
  auto c = pool.Acquire();
  c->Transact("after", [](store::Tx& tx) { tx.ExecRaw("UPDATE store_t SET v = 3 WHERE id = 1"); });
  EXPECT_EQ(conn_->ExecRawOne("SELECT v FROM store_t WHERE id = 1").At(0, 0).Int(), 3);
}

// A URL declared to go through a pooler in transaction mode (store::DeclareTransactionPooled):
// its connections keep nothing in their sessions. Named statements run without being prepared,
// the timeouts are set per transaction (SET LOCAL) and not on the session, and ExecOne runs in
// a transaction of its own to carry them. On a direct URL the same statement is prepared.
TEST_F(Store, AConnectionBehindATransactionPoolerKeepsNothingInItsSession) {
  std::string url = pgtest::TestDatabaseUrl();
  url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("application_name=pooled");
  store::DeclareTransactionPooled(url);
  ASSERT_TRUE(store::IsTransactionPooled(url));
  EXPECT_FALSE(store::IsTransactionPooled(pgtest::TestDatabaseUrl()));
  store::ConnectionOptions o;
  o.statement_timeout_ms = 4'321;
  auto pooled = store::Connect(url, o);
  auto prepared_here = [](store::Connection& c) {
    return c.ExecRawOne("SELECT count(*) FROM pg_prepared_statements").At(0, 0).Int();
  };
  pooled->Transact("t", [&](store::Tx& tx) {
    EXPECT_TRUE(tx.Exec("leader_lease_release", {"nobody"}).Empty());
    EXPECT_EQ(tx.ExecRaw("SHOW statement_timeout").At(0, 0).Str(), "4321ms");
  });
  EXPECT_EQ(pooled->ExecOne("leader_lease_acquire", {"store-test", int64_t{60'000}, false}).Size(),
            1u);
  EXPECT_EQ(prepared_here(*pooled), 0);
  EXPECT_NE(pooled->ExecRawOne("SHOW statement_timeout").At(0, 0).Str(), "4321ms")
      << "set on the session, which a pooler would hand to someone else";
  EXPECT_EQ(pooled->ExecRawOne("SELECT current_setting('application_name')").At(0, 0).Str(),
            "pooled");

  auto direct = pgtest::Connect();
  direct->ExecOne("leader_lease_release", {"store-test"});
  EXPECT_GE(prepared_here(*direct), 1);
  EXPECT_EQ(direct->ExecRawOne("SELECT count(*) FROM leader_lease").At(0, 0).Int(), 0);
}
