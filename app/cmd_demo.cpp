// clubos demo: the queue at work, end to end, on CLUBOS_DATABASE_URL. Two workers share the load,
// one of them is elected leader, a flaky job succeeds on its third attempt, a broken one dies
// after its last attempt, a scheduled job waits for its time, and a duplicate key is absorbed.
#include <cstdio>
#include <thread>

#include "app/cli.h"
#include "app/commands.h"
#include "store/db.h"
#include "store/migrator.h"
#include "workers/queue.h"
#include "workers/runtime.h"

namespace clubos::app {
namespace {

using Steady = std::chrono::steady_clock;

workers::KindSpec Kind(std::string kind, workers::Handler h) {
  // Short backoff so the demo shows retries in seconds, not minutes.
  return {std::move(kind), std::move(h), {Millis(200), Millis(2'000), 0.25}, Millis(30'000), {}};
}

}  // namespace

int CmdDemo(const Args& args) {
  Flags f(args,
          {"--jobs", "--api", "--sim", "--service-token", "--operator-token",
           "--second-operator-token"},
          {"--help", "--queue-only"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos demo --api URL --sim URL --service-token T --operator-token T\n"
        "                   --second-operator-token T [--jobs 500] [--queue-only]\n"
        "  plays a short queue scenario on CLUBOS_DATABASE_URL, then a morning of customer texts\n"
        "  through `clubos serve` (--api) with `clubos sim` (--sim) as the customers and the\n"
        "  facility, and prints what happened. scripts/demo starts everything and runs this.");
    return 0;
  }
  DemoEndpoints ends;
  if (!f.Has("--queue-only")) {
    for (const char* need :
         {"--api", "--sim", "--service-token", "--operator-token", "--second-operator-token"})
      if (!f.Has(need)) throw UsageError(std::string(need) + " is required (or --queue-only)");
    ends = {f.Str("--api", ""), f.Str("--sim", ""), f.Str("--service-token", ""),
            f.Str("--operator-token", ""), f.Str("--second-operator-token", "")};
  }
  const int n = static_cast<int>(f.Int("--jobs", 500, 1, 100'000));
  const std::string url = DatabaseUrl();
  auto conn = store::Connect(url);
  const int applied = store::Migrate(*conn);
  std::printf("schema: %d migrations applied, version %d\n", applied,
              store::ReadSchemaStatus(*conn).db_version);
  conn->ExecRawOne("DELETE FROM jobs WHERE kind LIKE 'demo.%'");

  workers::Registry registry;
  std::atomic<int> greeted{0};
  registry.Register(Kind("demo.greet", [&](workers::JobContext&) {
    ++greeted;
    return workers::Outcome::Complete();
  }));
  registry.Register(Kind("demo.flaky", [](workers::JobContext& ctx) {
    if (ctx.job().attempt < 3)
      return workers::Outcome::Retry("the bay PC did not answer (attempt " +
                                     std::to_string(ctx.job().attempt) + ")");
    return workers::Outcome::Complete();
  }));
  registry.Register(Kind("demo.broken", [](workers::JobContext&) {
    return workers::Outcome::Retry("the door controller refused the token");
  }));
  std::atomic<int> dead_hooks{0};
  // Runs in the transaction that kills the job: counted and told once it has committed.
  registry.OnDead([&](store::Tx& tx, const workers::Job& job, const std::string& reason) {
    tx.AfterCommit([&dead_hooks, id = job.id, kind = job.kind, attempt = job.attempt, reason] {
      ++dead_hooks;
      std::printf(
          "  dead hook: job %lld (%s) after %d attempts: %s -> an operator would be alerted "
          "here\n",
          static_cast<long long>(id), kind.c_str(), attempt, reason.c_str());
    });
  });
  std::optional<Steady::time_point> later_ran;
  registry.Register(Kind("demo.later", [&](workers::JobContext&) {
    later_ran = Steady::now();
    return workers::Outcome::Complete();
  }));

  const auto& clock = SystemClock::Instance();
  const auto t0 = Steady::now();
  conn->Transact("demo_enqueue", [&](store::Tx& tx) {
    std::vector<workers::EnqueueRequest> many(static_cast<std::size_t>(n));
    // A queue of its own: `clubos serve`'s workers (running the customer flow beside this demo)
    // serve "default" and must not take these.
    for (auto& r : many) {
      r.kind = "demo.greet";
      r.queue = "demo";
    }
    workers::EnqueueMany(tx, many, clock);
    workers::EnqueueRequest flaky{.kind = "demo.flaky", .queue = "demo", .max_attempts = 5};
    workers::Enqueue(tx, flaky, clock);
    workers::EnqueueRequest broken{.kind = "demo.broken", .queue = "demo", .max_attempts = 3};
    workers::Enqueue(tx, broken, clock);
    workers::EnqueueRequest later{
        .kind = "demo.later", .queue = "demo", .run_at = clock.Now() + Millis(1'500)};
    workers::Enqueue(tx, later, clock);
    workers::EnqueueRequest keyed{
        .kind = "demo.greet", .queue = "demo", .unique_key = "demo:customer-42"};
    const auto first = workers::Enqueue(tx, keyed, clock);
    const auto second = workers::Enqueue(tx, keyed, clock);
    tx.AfterCommit([=] {
      std::printf(
          "enqueued %d jobs in one transaction; the same unique key twice gave jobs %lld and %lld "
          "(second: existed=%s)\n",
          n + 4, static_cast<long long>(first.id), static_cast<long long>(second.id),
          second.existed ? "true" : "false");
    });
  });

  std::vector<std::unique_ptr<workers::Runtime>> workers_;
  for (int i = 0; i < 2; ++i) {
    workers::RuntimeOptions opt;
    opt.database_url = url;
    opt.name = "demo-worker-" + std::to_string(i + 1);
    opt.queues = {"demo"};
    opt.concurrency = 4;
    opt.fetch_batch_max = 20;  // small claims, so that both workers visibly share the work
    workers_.push_back(std::make_unique<workers::Runtime>(opt, registry, clock));
    workers_.back()->Start();
  }
  std::puts("two workers started; draining...");
  for (int tick = 0;; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto r = conn->ExecRawOne(
        "SELECT count(*) FILTER (WHERE state <> 'dead'), count(*) FILTER (WHERE state = 'dead') "
        "FROM jobs WHERE kind LIKE 'demo.%'");
    const auto pending = r.At(0, 0).Int64(), dead = r.At(0, 1).Int64();
    if (tick % 4 == 0)
      std::printf("  t=%.1fs pending=%lld dead=%lld greeted=%d\n",
                  std::chrono::duration<double>(Steady::now() - t0).count(),
                  static_cast<long long>(pending), static_cast<long long>(dead), greeted.load());
    if (pending == 0) break;
    if (tick > 240) throw std::runtime_error("demo did not finish within 60 s");
  }
  std::string leader = "another process (clubos serve's workers hold the advisory lock)";
  for (auto& w : workers_)
    if (w->IsLeader()) leader = w->lease_owner();
  int64_t completed = 0, retried = 0, dead = 0;
  for (auto& w : workers_) {
    std::printf("worker %s: completed %lld, retried %lld, dead %lld\n", w->lease_owner().c_str(),
                static_cast<long long>(w->stats().completed.load()),
                static_cast<long long>(w->stats().retried.load()),
                static_cast<long long>(w->stats().dead.load()));
    completed += w->stats().completed;
    retried += w->stats().retried;
    dead += w->stats().dead;
  }
  for (auto& w : workers_) w->Stop();
  auto deadrow = conn->ExecRawOne(
      "SELECT id, attempt, max_attempts, last_error FROM jobs WHERE kind = 'demo.broken'");
  std::puts("\nsummary");
  std::printf("  completed %lld jobs (%d greetings), %lld retries, %lld dead, %d dead hooks ran\n",
              static_cast<long long>(completed), greeted.load(), static_cast<long long>(retried),
              static_cast<long long>(dead), dead_hooks.load());
  if (!deadrow.Empty())
    std::printf("  dead job %lld: attempt %d of %d, last error: %s\n",
                static_cast<long long>(deadrow.At(0, 0).Int64()), deadrow.At(0, 1).Int(),
                deadrow.At(0, 2).Int(), deadrow.At(0, 3).Str().c_str());
  if (later_ran)
    std::printf("  scheduled job ran %.2f s after enqueue (asked for 1.5 s)\n",
                std::chrono::duration<double>(*later_ran - t0).count());
  std::printf("  maintenance leader: %s\n", leader.c_str());
  std::printf(
      "  inspect: psql \"%s\" -c \"SELECT id, kind, state, attempt, last_error FROM jobs\"\n",
      url.c_str());
  if (f.Has("--queue-only")) return 0;
  return DemoFlow(url, ends);
}

}  // namespace clubos::app
