// clubos serve: the HTTP API, and with --workers N the queue workers in the same process.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "api/api.h"
#include "app/cli.h"
#include "app/commands.h"
#include "app/flow_wiring.h"
#include "core/log.h"
#include "store/db.h"
#include "store/migrator.h"
#include "workers/runtime.h"
#include "workflows/agent.h"

namespace clubos::app {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

int CmdServe(const Args& args) {
  Flags f(args,
          {"--port", "--host", "--workers", "--config", "--threads", "--handlers",
           "--max-body-bytes", "--db-pool", "--rate-limit", "--rate-burst", "--auth-failures",
           "--auth-failure-window-ms", "--drain-ms", "--ready-grace-ms", "--grace-ms",
           "--intake-committers", "--intake-batch", "--facility", "--lease-ms"},
          {"--help", "--insecure-dev", "--secure-cookies"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos serve [--port 8080] [--host 127.0.0.1] [--workers 0] [--config "
        "clubos.json]\n"
        "                    [--threads 2] [--handlers 16] [--max-body-bytes 65536] [--db-pool 0]\n"
        "                    [--rate-limit 50] [--rate-burst 100] [--auth-failures 20]\n"
        "                    [--auth-failure-window-ms 60000] [--drain-ms 10000]\n"
        "                    [--ready-grace-ms 0] [--grace-ms 10000] [--intake-committers 2]\n"
        "                    [--intake-batch 64] [--insecure-dev] [--facility vendors|fake]\n"
        "                    [--secure-cookies] [--lease-ms 30000]\n"
        "  the HTTP API (JSON, /v1; interfaces.md). --port 0 picks a free port; the line\n"
        "  `clubos serve listening on HOST:PORT` on stdout says which. With --workers N it also\n"
        "  runs N queue workers in this process (the single-machine setup).\n"
        "  --threads         HTTP I/O threads (Pistache reactors)\n"
        "  --handlers        threads that run requests (a waiting request holds one; when all\n"
        "                    are busy and 1024 more wait, requests are answered 503 at once)\n"
        "  --max-body-bytes  larger bodies are refused with 413\n"
        "  --db-pool         pooled database connections (0: handlers + 4)\n"
        "  --rate-limit      requests per second per token, sustained (0: no limit);\n"
        "  --rate-burst      and at once; past them 429 with Retry-After\n"
        "  --auth-failures, --auth-failure-window-ms\n"
        "                    after this many failed authentications (wrong token or device key)\n"
        "                    from one address within the window, every credential from it is\n"
        "                    refused 429 until the window ends (0: off; behind a proxy every\n"
        "                    client has the proxy's address: throttle there, docs/api.md)\n"
        "  --intake-committers, --intake-batch\n"
        "                    inbound messages are stored in batches (group commit): this many\n"
        "                    threads, each committing up to this many messages at once\n"
        "  --lease-ms        how long a job of the in-process workers stays theirs without a\n"
        "                    heartbeat: a job held by a process that died waits this long\n"
        "  On SIGTERM/SIGINT /readyz answers 503 at once; requests keep being served for\n"
        "  --ready-grace-ms (for a load balancer to notice), in-flight requests get up to\n"
        "  --drain-ms to finish, the server stops, the workers stop within --grace-ms (handing\n"
        "  back what did not finish), and the process exits 0. A database out of reach at start\n"
        "  is waited for (retries with backoff up to 30 s, logged).\n"
        "environment:\n"
        "  CLUBOS_DATABASE_URL               libpq URI\n"
        "  CLUBOS_READ_DATABASE_URL          a hot standby for the lists and /v1/status, used\n"
        "                                    while it streams from the primary and is at most\n"
        "                                    CLUBOS_READ_MAX_LAG_MS (2000, at most 60000) behind\n"
        "                                    the primary (the lists: once it has what the primary\n"
        "                                    had when they began)\n"
        "  CLUBOS_API_TOKENS                 role:token or role:name:token, comma-separated\n"
        "                                    (roles service, operator, admin); or\n"
        "  CLUBOS_API_TOKENS_FILE            a file of them, one per line (# at a line's start\n"
        "                                    or after a blank starts a comment)\n"
        "  CLUBOS_OPENPHONE_SIGNING_SECRET   base64, verifies `openphone-signature`\n"
        "  CLUBOS_OPENPHONE_WEBHOOK_KEY      whsec_..., verifies the `webhook-*` headers\n"
        "  CLUBOS_AGENT_KEYS                 device:key pairs of the bay agents (keys of at\n"
        "                                    least 16 characters)\n"
        "  without any token or operator account serve refuses to start, unless --insecure-dev\n"
        "  (every caller then acts as `dev` with every role: for a laptop, never for a facility).\n"
        "  --secure-cookies  the login cookie is Secure (serve behind TLS)");
    return 0;
  }
  api::ApiOptions opt;
  opt.http.host = f.Str("--host", "127.0.0.1");
  opt.http.port = static_cast<uint16_t>(f.Int("--port", 8080, 0, 65535));
  opt.http.threads = static_cast<int>(f.Int("--threads", 2, 1, 256));
  opt.http.handler_threads = static_cast<int>(f.Int("--handlers", 16, 1, 1024));
  opt.http.max_body_bytes =
      static_cast<std::size_t>(f.Int("--max-body-bytes", 64 * 1024, 1024, 16 * 1024 * 1024));
  // Pistache's own limit counts headers too; ours answers in the error shape first.
  opt.http.max_request_bytes = opt.http.max_body_bytes + 16 * 1024;
  opt.db_pool_size = static_cast<int>(f.Int("--db-pool", 0, 0, 1000));
  opt.rate_limit_per_s = static_cast<double>(f.Int("--rate-limit", 50, 0, 10'000'000));
  opt.rate_limit_burst = static_cast<double>(f.Int("--rate-burst", 100, 1, 10'000'000));
  opt.auth_failures_max = static_cast<int>(f.Int("--auth-failures", 20, 0, 1'000'000));
  opt.auth_failure_window = Millis(f.Int("--auth-failure-window-ms", 60'000, 1'000, 86'400'000));
  opt.insecure_dev = f.Has("--insecure-dev");
  // Behind TLS the session cookie is Secure (also when a proxy says X-Forwarded-Proto: https).
  opt.secure_cookies = f.Has("--secure-cookies");
  opt.intake_committers = static_cast<int>(f.Int("--intake-committers", 2, 1, 64));
  opt.intake_batch_max = static_cast<int>(f.Int("--intake-batch", 64, 1, 10'000));
  opt.openphone_signing_secret = Env("CLUBOS_OPENPHONE_SIGNING_SECRET");
  opt.openphone_webhook_key = Env("CLUBOS_OPENPHONE_WEBHOOK_KEY");
  const int workers = static_cast<int>(f.Int("--workers", 0, 0, 1000));
  const Millis drain(f.Int("--drain-ms", 10'000, 0, 3'600'000));
  const Millis ready_grace(f.Int("--ready-grace-ms", 0, 0, 3'600'000));
  const Millis grace(f.Int("--grace-ms", 10'000, 0, 3'600'000));
  const Millis lease(f.Int("--lease-ms", 30'000, 100, 3'600'000));

  api::TokenSet tokens;
  try {
    tokens = api::TokenSet::FromEnvironment();
  } catch (const api::TokenError& e) {
    throw UsageError(std::string("CLUBOS_API_TOKENS: ") + e.what());
  }
  opt.database_url = DatabaseUrl();
  opt.listen_url = ListenDatabaseUrl();
  opt.read_url = Env("CLUBOS_READ_DATABASE_URL");
  if (const std::string lag = Env("CLUBOS_READ_MAX_LAG_MS"); !lag.empty()) {
    char* end = nullptr;
    const long ms = std::strtol(lag.c_str(), &end, 10);
    if (*end || ms < 0 || ms > 60'000)
      throw UsageError("CLUBOS_READ_MAX_LAG_MS must be 0..60000 milliseconds, not '" + lag + "'");
    opt.read_max_lag = Millis(ms);
  }
  bool accounts = false;
  BlockStopSignals();  // before any thread starts: every thread inherits the mask
  {
    auto conn = ConnectWhenReachable(opt.database_url, opt.listen_url);
    if (!conn) return 0;
    accounts =
        conn->ExecRawOne("SELECT count(*) AS n FROM users WHERE NOT disabled").At(0, "n").Int64() >
        0;
  }
  // A standby behind a transaction pooler (the primary's kind, or found so by the same check) keeps
  // nothing in its sessions either; one that cannot be asked now is treated so, which works
  // either way.
  if (!opt.read_url.empty()) {
    bool pooled = store::IsTransactionPooled(opt.database_url);
    if (!pooled) {
      try {
        pooled = store::BehindTransactionPooler(opt.read_url);
      } catch (const std::exception& e) {
        pooled = true;
        log::Get()->warn(
            "read standby not reachable at start ({}); reads go to the primary until "
            "it is",
            e.what());
      }
    }
    if (pooled) store::DeclareTransactionPooled(opt.read_url);
  }
  // Operators log in with their accounts (clubos user add); services and agents use tokens and
  // keys. With neither, nobody could do anything: refused, unless on a development machine.
  if (tokens.empty() && !accounts && !opt.insecure_dev)
    throw UsageError(
        "no API token and no operator account: set CLUBOS_API_TOKENS (or "
        "CLUBOS_API_TOKENS_FILE), add an operator with `clubos user add`, or pass --insecure-dev "
        "on a development machine");
  if (tokens.empty() && opt.insecure_dev)
    log::Get()->warn("--insecure-dev without tokens: every caller acts as `dev` with every role");
  workers::Registry registry;
  RegisterBuiltinKinds(registry);
  FlowWiring wiring(Config::Load(f.Str("--config", "clubos.json")),
                    ParseFacilityKind(f.Str("--facility", "vendors")), opt.database_url, registry);
  std::unique_ptr<workflows::AgentProtocol> agent;
  try {
    agent = std::make_unique<workflows::AgentProtocol>(workflows::AgentProtocol::KeysFromEnv(),
                                                       SystemClock::Instance());
  } catch (const workflows::AgentKeyError& e) {
    throw UsageError(std::string("CLUBOS_AGENT_KEYS: ") + e.what());
  }

  api::ApiServer server(opt, std::move(tokens), wiring.flow, agent.get(), SystemClock::Instance());
  std::unique_ptr<workers::Runtime> runtime, consulting;  // consulting: OperatorGPT's executors
  if (workers > 0) {
    workers::RuntimeOptions ro;
    ro.database_url = opt.database_url;
    ro.listen_url = opt.listen_url;
    ro.name = "serve";
    ro.concurrency = workers;
    ro.shutdown_grace = grace;
    ro.lease = lease;
    ro.heartbeat_interval = lease / 3;
    ro.on_job_ran = [&server](const workers::Job& job, std::chrono::microseconds latency,
                              std::chrono::microseconds run, const char* outcome) {
      server.ObserveJob(job, latency, run, outcome);
    };
    wiring.flow.HearKnowledge(ro);
    wiring.flow.ScheduleReview(ro);
    runtime = std::make_unique<workers::Runtime>(ro, registry, SystemClock::Instance());
    runtime->Start();
    consulting = StartModelRuntime(wiring, ro, registry, std::max(2, workers));
  }
  server.Start();
  std::printf("clubos serve listening on %s:%u\n", opt.http.host.c_str(), server.Port());
  std::fflush(stdout);
  log::Get()->info("serving on {}:{} with {} HTTP threads and {} workers", opt.http.host,
                   server.Port(), opt.http.threads, workers);

  const int sig = WaitForStopSignal();
  log::Get()->info("received signal {}: draining", sig);
  server.BeginDrain();
  if (ready_grace.count() > 0) {
    // Keep serving while a load balancer notices /readyz: a timed wait is the point here.
    std::this_thread::sleep_for(ready_grace);
  }
  if (!server.WaitIdle(drain))
    log::Get()->warn("requests still in flight after {} ms; stopping anyway", drain.count());
  server.Stop();
  log::Get()->info("HTTP server stopped");
  const bool consultations_done = !consulting || consulting->Stop();
  if ((runtime && !runtime->Stop()) || !consultations_done) {
    // Handlers still running were handed back to the queue; their threads cannot be joined.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

}  // namespace clubos::app
