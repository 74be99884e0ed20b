// clubos migrate | worker | statemachine
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include "app/cli.h"
#include "app/commands.h"
#include "app/flow_wiring.h"
#include "core/log.h"
#include "statemachines/action_machine.h"
#include "statemachines/job_machine.h"
#include "statemachines/thread_machine.h"
#include "store/db.h"
#include "store/migrator.h"
#include "workers/runtime.h"

namespace clubos::app {

std::string DatabaseUrl() {
  const char* url = std::getenv("CLUBOS_DATABASE_URL");
  if (!url || !*url) throw UsageError("set CLUBOS_DATABASE_URL to a libpq URI (postgresql://...)");
  // Declared, so that every command's connections (migrate, sop, user, ...) keep nothing in their
  // sessions; worker and serve also find an undeclared pooler out (ConnectWhenReachable).
  if (DeclaredPooling() == "transaction") store::DeclareTransactionPooled(url);
  return url;
}

void BlockStopSignals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

int WaitForStopSignal() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  int sig = 0;
  sigwait(&s, &sig);
  return sig;
}

namespace {
// Sleeps `d` unless a stop signal arrives first; returns the signal, or 0 when the time passed.
int SleepUnlessStopped(Millis d) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  timespec ts{static_cast<time_t>(d.count() / 1000),
              static_cast<long>(d.count() % 1000) * 1'000'000};
  const int sig = sigtimedwait(&s, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

// libpq reports every failed connection the same way; these messages say the server answered
// and refused.
bool RefusedForGood(const std::string& what) {
  for (const char* m : {"password authentication failed", "no pg_hba.conf entry", "does not exist",
                        "no password supplied"})
    if (what.find(m) != std::string::npos) return true;
  return false;
}
}  // namespace

std::string DeclaredPooling() {
  const char* v = std::getenv("CLUBOS_DATABASE_POOLING");
  const std::string mode = v && *v ? v : "auto";
  if (mode != "auto" && mode != "transaction" && mode != "session")
    throw UsageError("CLUBOS_DATABASE_POOLING must be auto, transaction or session, not '" + mode +
                     "'");
  return mode;
}

std::string ListenDatabaseUrl() {
  const char* url = std::getenv("CLUBOS_LISTEN_DATABASE_URL");
  return url ? url : "";
}

std::unique_ptr<store::Connection> ConnectWhenReachable(const std::string& url,
                                                        const std::string& listen_url) {
  Millis backoff(500);
  for (int attempt = 1;; ++attempt) {
    try {
      // Before any connection to it opens: a connection behind such a pooler keeps nothing in
      // its session (store::DeclareTransactionPooled).
      const std::string mode = DeclaredPooling();
      const bool pooled =
          mode == "transaction" || (mode == "auto" && store::BehindTransactionPooler(url));
      if (pooled) store::DeclareTransactionPooled(url);
      auto conn = store::Connect(url);
      store::RequireCurrentSchema(*conn);
      if (!listen_url.empty() && store::BehindTransactionPooler(listen_url))
        throw std::runtime_error(
            "CLUBOS_LISTEN_DATABASE_URL goes through a pooler in transaction mode, which cannot "
            "carry a LISTEN: give it a direct connection or a pool in session mode, or leave it "
            "unset to poll (docs/operations.md)");
      if (pooled)
        log::Get()->info(
            "CLUBOS_DATABASE_URL goes through a pooler in transaction mode: statements are sent "
            "unprepared, the leader holds a lease row, and {}",
            listen_url.empty() ? "nothing LISTENs (the queues are polled; set "
                                 "CLUBOS_LISTEN_DATABASE_URL to a direct connection to be woken)"
                               : "notifications come from CLUBOS_LISTEN_DATABASE_URL");
      if (attempt > 1) log::Get()->info("database reachable after {} attempts", attempt);
      return conn;
    } catch (const store::DbError& e) {
      // Down, starting up, or between a primary's death and a standby's promotion: a process
      // that gave up here would leave a supervisor's restart budget to decide how long an
      // outage may last. A refusal that waiting cannot cure (credentials, a missing database,
      // pg_hba.conf) is a deployment mistake: it exits, for the supervisor to report.
      if (!store::ConnectionWentAway(e) || RefusedForGood(e.what())) throw;
      log::Get()->warn("database unreachable (attempt {}), retrying in {} ms: {}", attempt,
                       backoff.count(), e.what());
    }
    if (const int sig = SleepUnlessStopped(backoff)) {
      log::Get()->info("received signal {} while waiting for the database, stopping", sig);
      return nullptr;
    }
    backoff = std::min(backoff * 2, Millis(30'000));
  }
}

int CmdMigrate(const Args& args) {
  Flags f(args, {}, {"--help", "--status"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos migrate [--status]\n"
        "  applies the migrations compiled into this binary, each in its own transaction under\n"
        "  an advisory lock; refuses a database whose schema is newer than the binary.\n"
        "  --status  print the code and database schema versions and change nothing");
    return 0;
  }
  auto conn = store::Connect(DatabaseUrl());
  if (f.Has("--status")) {
    const auto s = store::ReadSchemaStatus(*conn);
    std::printf("{\"code_version\":%d,\"db_version\":%d,\"current\":%s}\n", s.code_version,
                s.db_version, s.Current() ? "true" : "false");
    return 0;
  }
  const int n = store::Migrate(*conn);
  const auto s = store::ReadSchemaStatus(*conn);
  std::printf("migrated: %d applied, schema version %d\n", n, s.db_version);
  return 0;
}

int CmdWorker(const Args& args) {
  Flags f(args,
          {"--concurrency", "--queues", "--name", "--batch", "--lease-ms", "--grace-ms",
           "--poll-ms", "--config", "--facility", "--llm-concurrency"},
          {"--help"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos worker [--concurrency 10] [--queues default] [--name ID] [--batch 100]\n"
        "                     [--lease-ms 30000] [--grace-ms 10000] [--poll-ms 1000] [--config "
        "clubos.json]\n"
        "                     [--facility vendors|fake] [--llm-concurrency 8]\n"
        "  with --config it runs the customer flow (route, execute, verify, ...) for that "
        "facility,\n"
        "  acting through its vendors at the configured URLs (`fake`: the simulated facility in\n"
        "  the database, for tests). When the config names a model endpoint\n"
        "  (integrations.llm.base_url), --llm-concurrency executors of their own serve the `llm`\n"
        "  queue: consultations wait for the model without holding the flow's executors.\n"
        "  runs jobs from the queues until SIGTERM/SIGINT: then it stops fetching, lets running\n"
        "  jobs finish within --grace-ms, hands back the rest and exits 0. Start as many workers\n"
        "  as the load needs, on any machine that reaches the database; one of them is elected\n"
        "  (advisory lock) to run timers, rescue jobs of lost workers and prune. A database\n"
        "  out of reach at start is waited for (retries with backoff up to 30 s, logged).");
    return 0;
  }
  workers::RuntimeOptions opt;
  opt.database_url = DatabaseUrl();
  opt.concurrency = static_cast<int>(f.Int("--concurrency", 10, 1, 1000));
  opt.queues = f.List("--queues", {"default"});
  opt.name = f.Str("--name", "worker");
  opt.fetch_batch_max = static_cast<int>(f.Int("--batch", 100, 1, 10'000));
  opt.lease = Millis(f.Int("--lease-ms", 30'000, 100, 3'600'000));
  opt.heartbeat_interval = opt.lease / 3;
  opt.shutdown_grace = Millis(f.Int("--grace-ms", 10'000, 0, 3'600'000));
  opt.poll_interval = Millis(f.Int("--poll-ms", 1'000, 10, 60'000));
  opt.listen_url = ListenDatabaseUrl();
  BlockStopSignals();  // before any thread starts: every thread inherits the mask
  if (f.Has("--poll-ms")) opt.unwoken_poll_interval = opt.poll_interval;
  if (!ConnectWhenReachable(opt.database_url, opt.listen_url)) return 0;
  workers::Registry registry;
  RegisterBuiltinKinds(registry);
  std::unique_ptr<FlowWiring> flow;
  if (f.Has("--config"))
    flow = std::make_unique<FlowWiring>(Config::Load(f.Str("--config", "")),
                                        ParseFacilityKind(f.Str("--facility", "vendors")),
                                        opt.database_url, registry);
  if (flow) {
    flow->flow.HearKnowledge(opt);
    flow->flow.ScheduleReview(opt);
  }
  workers::Runtime runtime(opt, registry, SystemClock::Instance());
  runtime.Start();
  const auto consulting =
      flow ? StartModelRuntime(*flow, opt, registry,
                               static_cast<int>(f.Int("--llm-concurrency", 8, 1, 1000)))
           : nullptr;
  const int sig = WaitForStopSignal();
  log::Get()->info("received signal {}, stopping", sig);
  const bool clean = runtime.Stop() & (!consulting || consulting->Stop());
  if (!clean) {
    // Handlers still running were handed back to the queue; their threads cannot be joined.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

int CmdStatemachine(const Args& args) {
  Flags f(args, {}, {"--help"});
  const auto& pos = f.positional();
  if (f.Has("--help") || pos.size() != 2 || pos[0] != "dot") {
    std::puts(
        "usage: clubos statemachine dot job\n  prints the transition table as a Graphviz diagram");
    return f.Has("--help") ? 0 : 2;
  }
  for (const sm::Table* t : {&sm::ThreadMachine(), &sm::ActionMachine(), &sm::JobMachine()}) {
    if (t->name() == pos[1]) {
      std::cout << t->Dot();
      return 0;
    }
  }
  throw UsageError("unknown state machine '" + pos[1] + "' (known: thread, action, job)");
}

}  // namespace clubos::app
