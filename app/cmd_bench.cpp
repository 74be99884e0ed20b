// clubos bench queue: drain throughput with P worker processes, and idle enqueue-to-start latency.
// Both run the real worker runtime against CLUBOS_DATABASE_URL, or a private durable Postgres.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <atomic>
#include <unordered_map>
#include "app/bench_common.h"
#include "app/cli.h"
#include "app/commands.h"
#include "app/flow_wiring.h"
#include "app/private_pg.h"
#include "core/config.h"
#include "core/log.h"
#include "sim/facility_sim.h"
#include "store/db.h"
#include "store/migrator.h"
#include "workers/queue.h"
#include "workers/runtime.h"
#include "workflows/policy.h"

extern char** environ;

namespace clubos::app {
namespace {

using Steady = std::chrono::steady_clock;
constexpr const char* kBenchQueue = "bench";

struct ChildReport {
  int64_t count = 0;
  int64_t first_start_us = 0;
  int64_t last_end_us = 0;
  std::vector<double> latencies_ms;
};

// Child: drain the bench queue until it is empty, then print one line:
// count first_start_us last_end_us latency_ms...
int RunChild(const Flags& f) {
  workers::RuntimeOptions opt;
  opt.database_url = DatabaseUrl();
  opt.queues = {kBenchQueue};
  opt.name = "bench";
  opt.concurrency = static_cast<int>(f.Int("--concurrency", 10, 1, 1000));
  opt.fetch_batch_max = static_cast<int>(f.Int("--batch", 100, 1, 10'000));
  opt.maintenance = false;  // measure the job path alone, as graphile-worker's runOnce does
  opt.listen_url = ListenDatabaseUrl();
  std::mutex mu;
  ChildReport rep;
  const auto& clock = SystemClock::Instance();
  workers::Registry registry;
  registry.Register({"bench.noop",
                     [&](workers::JobContext& ctx) {
                       const auto now = clock.Now();
                       const int64_t us = now.time_since_epoch().count();
                       const double lat =
                           static_cast<double>((now - ctx.job().created_at).count()) / 1000.0;
                       std::lock_guard lk(mu);
                       if (!rep.first_start_us) rep.first_start_us = us;
                       rep.last_end_us = clock.Now().time_since_epoch().count();
                       ++rep.count;
                       rep.latencies_ms.push_back(lat);
                       return workers::Outcome::Complete();
                     },
                     {},
                     Millis(60'000),
                     {}});
  workers::Runtime runtime(opt, registry, clock);
  runtime.Start();
  auto probe = store::Connect(opt.database_url);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (runtime.HeldCount() != 0) continue;
    const bool more =
        probe
            ->ExecRawOne(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = 'bench' AND state = 'available')")
            .At(0, 0)
            .Bool();
    if (!more && runtime.HeldCount() == 0) break;
  }
  runtime.Stop();
  std::string out = std::to_string(rep.count) + " " + std::to_string(rep.first_start_us) + " " +
                    std::to_string(rep.last_end_us);
  for (double l : rep.latencies_ms) out += " " + Fixed(l);
  std::puts(out.c_str());
  return 0;
}

ChildReport ParseChild(const std::string& text) {
  ChildReport r;
  std::istringstream in(text);
  in >> r.count >> r.first_start_us >> r.last_end_us;
  double l;
  while (in >> l) r.latencies_ms.push_back(l);
  return r;
}

int RunDrain(const Flags& f) {
  const int64_t jobs = f.Int("--jobs", 20'000, 1, 10'000'000);
  const int concurrency = static_cast<int>(f.Int("--concurrency", 10, 1, 1000));
  const int processes = static_cast<int>(f.Int("--processes", 1, 1, 64));
  const int batch = static_cast<int>(f.Int("--batch", 100, 1, 10'000));
  BenchDb db;
  auto conn = store::Connect(db.url);
  conn->ExecRawOne("DELETE FROM jobs WHERE queue = 'bench'");
  conn->ExecRawOne("VACUUM ANALYZE jobs");

  const auto& clock = SystemClock::Instance();
  const auto t_enq = Steady::now();
  for (int64_t done = 0; done < jobs;) {
    const int64_t n = std::min<int64_t>(5'000, jobs - done);
    std::vector<workers::EnqueueRequest> reqs(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      auto& r = reqs[static_cast<std::size_t>(i)];
      r.kind = "bench.noop";
      r.queue = kBenchQueue;
      r.args = "{\"i\":" + std::to_string(done + i) + "}";
    }
    conn->Transact("bench_enqueue", [&](store::Tx& tx) { workers::EnqueueMany(tx, reqs, clock); });
    done += n;
  }
  const double enq_s = std::chrono::duration<double>(Steady::now() - t_enq).count();
  conn->ExecRawOne("CHECKPOINT");

  // Children inherit the environment; they find the database through CLUBOS_DATABASE_URL.
  ::setenv("CLUBOS_DATABASE_URL", db.url.c_str(), 1);
  std::vector<pid_t> pids;
  std::vector<int> fds;
  const auto t0 = Steady::now();
  for (int p = 0; p < processes; ++p) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    const std::string c = std::to_string(concurrency), b = std::to_string(batch);
    std::vector<std::string> argv_s = {"clubos",  "bench", "queue-child", "--concurrency", c,
                                       "--batch", b};
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("could not start a bench worker process");
    posix_spawn_file_actions_destroy(&fa);
    ::close(pipefd[1]);
    pids.push_back(pid);
    fds.push_back(pipefd[0]);
  }
  std::vector<ChildReport> reports;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[i], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[i]);
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("a bench worker process failed");
    reports.push_back(ParseChild(text));
  }
  const double wall_s = std::chrono::duration<double>(Steady::now() - t0).count();
  int64_t count = 0, first = INT64_MAX, last = 0;
  std::vector<double> lat;
  for (const auto& r : reports) {
    count += r.count;
    if (r.count) first = std::min(first, r.first_start_us);
    last = std::max(last, r.last_end_us);
    lat.insert(lat.end(), r.latencies_ms.begin(), r.latencies_ms.end());
  }
  const int64_t left =
      conn->ExecRawOne("SELECT count(*) FROM jobs WHERE queue = 'bench'").At(0, 0).Int64();
  if (count != jobs || left != 0)
    throw std::runtime_error("drain incomplete: ran " + std::to_string(count) + " of " +
                             std::to_string(jobs) + ", " + std::to_string(left) +
                             " left in the table");
  const double span_s = static_cast<double>(last - first) / 1e6;
  std::printf(
      "{\"bench\":\"queue\",\"jobs\":%lld,\"processes\":%d,\"concurrency\":%d,\"batch\":%d,"
      "\"seconds\":%s,\"jobs_per_sec\":%.0f,\"wall_seconds\":%s,\"wall_jobs_per_sec\":%.0f,"
      "\"enqueue_jobs_per_sec\":%.0f,\"latency_ms\":{\"p50\":%s,\"p99\":%s}}\n",
      static_cast<long long>(jobs), processes, concurrency, batch, Fixed(span_s, 3).c_str(),
      static_cast<double>(count) / span_s, Fixed(wall_s, 3).c_str(),
      static_cast<double>(count) / wall_s, static_cast<double>(jobs) / enq_s,
      Fixed(Percentile(lat, 0.5)).c_str(), Fixed(Percentile(lat, 0.99)).c_str());
  return 0;
}

int RunIdleLatency(const Flags& f) {
  const int samples = static_cast<int>(f.Int("--samples", 300, 1, 100'000));
  BenchDb db;
  const auto& clock = SystemClock::Instance();
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Steady::time_point> started;
  workers::Registry registry;
  registry.Register({"bench.latency",
                     [&](workers::JobContext&) {
                       {
                         std::lock_guard lk(mu);
                         started = Steady::now();
                       }
                       cv.notify_one();
                       return workers::Outcome::Complete();
                     },
                     {},
                     Millis(60'000),
                     {}});
  workers::RuntimeOptions opt;
  opt.database_url = db.url;
  opt.listen_url = ListenDatabaseUrl();
  opt.queues = {"bench_latency"};
  opt.concurrency = 1;
  workers::Runtime runtime(opt, registry, clock);
  runtime.Start();
  auto conn = store::Connect(db.url);
  std::vector<double> lat, enq;
  for (int i = -50; i < samples; ++i) {  // the first 50 warm up connections and plans
    {
      std::lock_guard lk(mu);
      started.reset();
    }
    workers::EnqueueRequest req;
    req.kind = "bench.latency";
    req.queue = "bench_latency";
    const auto t0 = Steady::now();
    conn->Transact("bench_enqueue", [&](store::Tx& tx) { workers::Enqueue(tx, req, clock); });
    const auto t_enq = Steady::now();
    std::unique_lock lk(mu);
    if (!cv.wait_for(lk, std::chrono::seconds(10), [&] { return started.has_value(); }))
      throw std::runtime_error("a job was not started within 10 s");
    if (i >= 0) {
      lat.push_back(std::chrono::duration<double, std::milli>(*started - t0).count());
      enq.push_back(std::chrono::duration<double, std::milli>(t_enq - t0).count());
    }
    lk.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let the worker go idle again
  }
  runtime.Stop();
  std::printf(
      "{\"bench\":\"queue_idle_latency\",\"samples\":%d,\"latency_ms\":{\"p50\":%s,\"p95\":%s,"
      "\"p99\":%s,"
      "\"max\":%s},\"enqueue_ms\":{\"p50\":%s,\"p99\":%s}}\n",
      samples, Fixed(Percentile(lat, 0.5)).c_str(), Fixed(Percentile(lat, 0.95)).c_str(),
      Fixed(Percentile(lat, 0.99)).c_str(), Fixed(Percentile(lat, 1.0)).c_str(),
      Fixed(Percentile(enq, 0.5)).c_str(), Fixed(Percentile(enq, 0.99)).c_str());
  return 0;
}

}  // namespace

void UnbrakeForBench(Config& config) {
  config.flow.debounce = Millis(0);
  config.flow.verify_poll = Millis(5);
  auto policy = nlohmann::json::parse(config.policy_json);
  policy["tech"]["confirmation"] = "none";
  policy["tech"]["cooldown_seconds"] = 0;
  policy["tech"]["require_booking"] = false;
  policy["limits"]["max_resets_per_bay_per_hour"] = workflows::kResetsPerBayPerHour.max;
  config.policy_json = policy.dump();
}

namespace {

// Customer messages through the whole flow (routing, policy, action against a zero-latency
// in-memory facility, verification), measured from the message's intake to its thread at rest.
int RunFlow(const Flags& f) {
  const int threads = static_cast<int>(f.Int("--threads", 2'000, 1, 1'000'000));
  const int rate = static_cast<int>(f.Int("--rate", 0, 0, 100'000));
  const int concurrency = static_cast<int>(f.Int("--concurrency", 8, 1, 1000));
  Config config = Config::Load(f.Str("--config", "config/clubos.example.json"));
  UnbrakeForBench(config);
  // --facility sim: the vendors are `clubos sim`, in this process on a loopback port, reached over
  // real HTTP by the real adapters (no delays of its own: what is measured is ClubOS plus HTTP).
  const std::string facility = f.Str("--facility", "memory");
  if (facility != "memory" && facility != "sim")
    throw UsageError("--facility must be memory or sim");
  std::unique_ptr<sim::InProcessSim> simulator;
  if (facility == "sim") {
    for (const auto& [var, value] :
         {std::pair{"CLUBOS_OPENPHONE_API_KEY", "bench-openphone"},
          std::pair{"CLUBOS_NINJAONE_CLIENT_ID", "bench-ninja"},
          std::pair{"CLUBOS_NINJAONE_CLIENT_SECRET", "bench-ninja-secret"},
          std::pair{"CLUBOS_UNIFI_TOKEN", "bench-unifi"}})
      ::setenv(var, value, 0);
    sim::SimOptions so;
    so.reset_delay = Millis(0);
    so.sms_delivery_delay = Millis(0);
    simulator = std::make_unique<sim::InProcessSim>(config, so, SystemClock::Instance(), 2);
  }
  BenchDb db;
  ImportBenchKnowledge(db.url, f.Str("--knowledge", "knowledge"));
  const auto& clock = SystemClock::Instance();
  workers::Registry registry;
  FlowWiring wiring(std::move(config),
                    facility == "sim" ? FacilityKind::kVendors : FacilityKind::kFakeInMemory,
                    db.url, registry);
  workflows::Flow& flow = wiring.flow;
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<int64_t, Steady::time_point> started;
  std::vector<double> latencies;
  int rested = 0, escalated = 0;
  flow.OnRest([&](int64_t thread_id, const std::string& state) {
    const auto now = Steady::now();
    std::lock_guard lk(mu);
    if (auto it = started.find(thread_id); it != started.end())
      latencies.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
    ++rested;
    escalated += state == "escalated";
    cv.notify_all();
  });
  workers::RuntimeOptions opt;
  opt.database_url = db.url;
  opt.concurrency = concurrency;
  workers::Runtime runtime(opt, registry, clock);
  auto probe = store::Connect(db.url);
  const int64_t transitions_before =
      probe->ExecRawOne("SELECT count(*) FROM transitions").At(0, 0).Int64();
  runtime.Start();

  const Location& bedford = wiring.config.locations.front();
  const int run_nonce =
      200 + static_cast<int>(Steady::now().time_since_epoch().count() / 1000 % 800);
  const int senders = rate > 0 ? 1 : 4;
  const auto t0 = Steady::now();
  std::vector<std::thread> ts;
  std::atomic<int> next{0};
  for (int s = 0; s < senders; ++s) {
    ts.emplace_back([&] {
      auto conn = store::Connect(db.url);
      for (int i; (i = next++) < threads;) {
        if (rate > 0)
          std::this_thread::sleep_until(t0 +
                                        std::chrono::microseconds(int64_t{1'000'000} * i / rate));
        // Fresh customers every run: a number that texted before would join its earlier thread.
        char phone[24];
        std::snprintf(phone, sizeof phone, "+1%03d%07d", run_nonce, i);
        const auto bay = bedford.bays[static_cast<std::size_t>(i) % bedford.bays.size()].number;
        const auto begin = Steady::now();
        const auto in =
            flow.Intake(*conn, {phone, bedford.phone_lines.front(),
                                "the trackman in bay " + std::to_string(bay) + " is frozen", ""});
        std::lock_guard lk(mu);
        started.emplace(in.thread_id, begin);
      }
    });
  }
  for (auto& t : ts) t.join();
  {
    std::unique_lock lk(mu);
    if (!cv.wait_for(lk, std::chrono::seconds(300), [&] { return rested >= threads; }))
      throw std::runtime_error("only " + std::to_string(rested) + " of " + std::to_string(threads) +
                               " threads came to rest within 300 s");
  }
  const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  // The last threads' "done" replies are still on their way: let them finish, so that a run
  // leaves nothing behind for the next one.
  WaitForZero(*probe, kJobsInFlight);
  const double drained_seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  runtime.Stop();
  const int64_t transitions =
      probe->ExecRawOne("SELECT count(*) FROM transitions").At(0, 0).Int64() - transitions_before;
  std::printf(
      "{\"bench\":\"flow\",\"facility\":\"%s\",\"threads\":%d,\"rate\":%d,\"concurrency\":%d,"
      "\"seconds\":%s,"
      "\"threads_per_sec\":%.0f,\"transitions\":%lld,\"transitions_per_sec\":%.0f,\"escalated\":%d,"
      "\"latency_ms\":{\"p50\":%s,\"p99\":%s}}\n",
      facility.c_str(), threads, rate, concurrency, Fixed(seconds, 3).c_str(), threads / seconds,
      static_cast<long long>(transitions), static_cast<double>(transitions) / drained_seconds,
      escalated, Fixed(Percentile(latencies, 0.5)).c_str(),
      Fixed(Percentile(latencies, 0.99)).c_str());
  return 0;
}

}  // namespace

int CmdBench(const Args& args) {
  Flags f(args,
          {"--jobs",
           "--concurrency",
           "--processes",
           "--batch",
           "--samples",
           "--threads",
           "--rate",
           "--config",
           "--facility",
           "--messages",
           "--llm-latency-ms",
           "--slow-llm-latency-ms",
           "--repeat",
           "--knowledge",
           "--knowledge-entries",
           "--retrieval-rounds",
           "--knowledge-seed",
           "--retrieval-dump",
           "--locations",
           "--rates",
           "--step-seconds",
           "--p99-limit-ms"},
          {"--help", "--json", "--idle-latency", "--retrieval-only"});
  const auto& pos = f.positional();
  if (f.Has("--help") || pos.empty()) {
    std::puts(
        "usage: clubos bench queue [--jobs 20000] [--concurrency 10] [--processes 1] [--batch 100] "
        "[--json]\n"
        "       clubos bench queue --idle-latency [--samples 300] [--json]\n"
        "  drain: enqueues N no-op jobs, then P worker processes drain them with the real worker "
        "code;\n"
        "  idle latency: one job at a time into an idle queue, enqueue-to-start.\n"
        "  Uses CLUBOS_DATABASE_URL, or starts a private durable Postgres when it is unset.\n"
        "       clubos bench flow [--threads 2000] [--rate R] [--concurrency 8] [--config "
        "clubos.json] [--facility memory|sim] [--knowledge knowledge] [--json]\n"
        "  flow: N customer messages (all at once, or R per second) through routing, policy, "
        "action against a\n"
        "  zero-latency in-memory facility (or clubos sim over HTTP) and verification;\n"
        "  message-to-verified latency.\n"
        "       clubos bench sites [--locations 50] [--rates 5,10,20,40,80,160,320] "
        "[--step-seconds 10]\n"
        "                          [--concurrency 8] [--p99-limit-ms 2000] [--json]\n"
        "  sites: the flow of `bench flow` for N locations (copies of the configuration's first),\n"
        "  texts spread over their bays, offered at each total rate in turn for a step; a step\n"
        "  keeps up when all its texts rest, p99 (from when each was due) under the limit, and\n"
        "  the last within the limit of the step's end. Stops at the first that does not: the\n"
        "  saturation point on this machine.\n"
        "       clubos bench router [--messages tests/data/messages.json] [--config clubos.json]\n"
        "                           [--llm-latency-ms 300] [--slow-llm-latency-ms 1500] [--repeat "
        "3]\n"
        "                           [--rate 20] [--concurrency 8] [--knowledge knowledge]\n"
        "                           [--knowledge-entries 5000] [--retrieval-rounds 5] "
        "[--knowledge-seed 1]\n"
        "                           [--retrieval-only] [--retrieval-dump FILE]\n"
        "  router: the development set's share answered without a model call; its routing latency\n"
        "  with the simulated model at the given latency; and the flow's throughput of the texts\n"
        "  the patterns are sure of, with the model path off, on, and on with a slow model (same "
        "run).\n"
        "  First, knowledge retrieval's latency over the set's texts (p50/p95/p99), with the "
        "shipped\n"
        "  knowledge and with N synthetic documents on top (written in a transaction that is "
        "rolled\n"
        "  back); --retrieval-only stops there.\n"
        "  The last line of output is one JSON object.");
    return f.Has("--help") ? 0 : 2;
  }
  if (pos[0] == "queue-child") return RunChild(f);
  if (pos[0] == "flow") return RunFlow(f);
  if (pos[0] == "router") return RunRouterBench(f);
  if (pos[0] == "sites") return RunSitesBench(f);
  if (pos[0] != "queue")
    throw UsageError("unknown benchmark '" + pos[0] + "' (known: queue, flow, sites, router)");
  return f.Has("--idle-latency") ? RunIdleLatency(f) : RunDrain(f);
}

}  // namespace clubos::app
