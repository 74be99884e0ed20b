// clubos bench router: how much OperatorGPT costs and whether it slows anything down. Over the
// development set (every text from a fresh customer): the share the patterns answer without a
// model call; the routing latency (first text to the routed transition) with the simulated
// model answering after --llm-latency-ms; and the throughput of the texts the patterns are sure
// of, with the model path off, on, and on with a slow model in the same run (it must not fall when
// the model is slow).
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "app/bench_common.h"
#include "app/bench_retrieval.h"
#include "app/flow_wiring.h"
#include "integrations/http.h"
#include "sim/facility_sim.h"
#include "workflows/llm_router.h"
#include "workflows/policy.h"

namespace clubos::app {
namespace {

using Steady = std::chrono::steady_clock;
using nlohmann::json;

std::vector<std::string> DevelopmentSet(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const json doc = json::parse(ss.str(), nullptr, false);
  if (!doc.is_object() || !doc.contains("cases") || !doc["cases"].is_array())
    throw UsageError(path + ": not a development set ({\"cases\": [{\"text\": ...}]})");
  std::vector<std::string> texts;
  for (const auto& c : doc["cases"])
    if (c.contains("text") && c["text"].is_string()) texts.push_back(c["text"].get<std::string>());
  return texts;
}

// The bench's facility: autonomous and unlimited, so what is measured is routing and the engine,
// not the policy's brakes on one bay reset by hundreds of customers.
Config BenchConfig(const Config& base) {
  Config c = base;
  c.flow.debounce = Millis(0);
  c.flow.verify_poll = Millis(5);
  auto policy = json::parse(c.policy_json);
  policy["tech"]["confirmation"] = "none";
  policy["tech"]["cooldown_seconds"] = 0;
  policy["tech"]["require_booking"] = false;
  policy["limits"]["max_resets_per_bay_per_hour"] = workflows::kResetsPerBayPerHour.max;
  policy["limits"]["tokens_per_location_day"] = 0;
  policy["limits"]["tokens_per_location_month"] = 0;
  c.policy_json = policy.dump();
  return c;
}

struct Run {
  double sure_seconds = 0;  // until every text the patterns are sure of came to rest
  int sure = 0;
  std::vector<double> sure_latency_ms, routing_ms, model_routing_ms;
  int64_t calls = 0, cache_hits = 0;
};

// `rate` texts per second (0: all at once, a burst).
Run RunFlow(const Config& config, const std::string& url, const std::vector<std::string>& texts,
            const std::vector<bool>& sure, int concurrency, int nonce, int rate) {
  workers::Registry registry;
  FlowWiring wiring(config, FacilityKind::kFakeInMemory, url, registry);
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<int64_t, Steady::time_point> started;
  std::set<int64_t> sure_threads;
  std::unordered_map<int64_t, Steady::time_point> rested;  // every thread, sure or not: a thread
                                                           // may rest before its intake returns
  Run run;
  wiring.flow.OnRest([&](int64_t thread_id, const std::string&) {
    const auto now = Steady::now();
    std::lock_guard lk(mu);
    rested.try_emplace(thread_id, now);
    cv.notify_all();
  });
  workers::RuntimeOptions opt;
  opt.database_url = url;
  opt.concurrency = concurrency;
  opt.name = "bench-router";
  workers::Runtime runtime(opt, registry, SystemClock::Instance());
  runtime.Start();
  const auto consulting = StartModelRuntime(wiring, opt, registry, 8);
  auto conn = store::Connect(url);
  const int64_t first_thread =
      conn->ExecRawOne("SELECT coalesce(max(id), 0) FROM threads").At(0, 0).Int64();
  const Location& bedford = wiring.config.locations.front();
  const auto t0 = Steady::now();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (rate > 0)
      std::this_thread::sleep_until(
          t0 + std::chrono::microseconds(int64_t{1'000'000} * static_cast<int64_t>(i) / rate));
    char phone[40];
    std::snprintf(phone, sizeof phone, "+1%03d%07d", nonce, static_cast<int>(i));
    const auto begin = Steady::now();
    const auto in = wiring.flow.Intake(*conn, {phone, bedford.phone_lines.front(), texts[i], ""});
    std::lock_guard lk(mu);
    started.emplace(in.thread_id, begin);
    if (sure[i]) sure_threads.insert(in.thread_id);
  }
  run.sure = static_cast<int>(sure_threads.size());
  {
    std::unique_lock lk(mu);
    auto all_rested = [&] {
      for (auto id : sure_threads)
        if (!rested.count(id)) return false;
      return true;
    };
    if (!cv.wait_for(lk, std::chrono::seconds(300), all_rested))
      throw std::runtime_error("the texts the patterns are sure of did not all come to rest");
    Steady::time_point last = t0;
    for (auto id : sure_threads) {
      last = std::max(last, rested[id]);
      run.sure_latency_ms.push_back(
          std::chrono::duration<double, std::milli>(rested[id] - started[id]).count());
    }
    run.sure_seconds = std::chrono::duration<double>(last - t0).count();
  }
  // Every thread routed (the model's too), then the routing latency from the history.
  WaitForZero(*conn, "SELECT count(*) FROM threads WHERE id > " + std::to_string(first_thread) +
                         " AND state = 'received'");
  auto lat = conn->ExecRawOne(
      "SELECT extract(epoch FROM (min(x.at) - min(m.received_at))) * 1000, "
      "bool_or(t.intent->>'router' IN ('llm', 'cache')) FROM threads t "
      "JOIN messages m ON m.thread_id = t.id AND m.direction = 'in' "
      "JOIN transitions x ON x.entity = 'thread' AND x.entity_id = t.id AND x.event = 'routed' "
      "WHERE t.id > " +
      std::to_string(first_thread) + " GROUP BY t.id");
  for (std::size_t i = 0; i < lat.Size(); ++i) {
    run.routing_ms.push_back(lat.At(i, 0).Double());
    if (lat.At(i, 1).Bool()) run.model_routing_ms.push_back(lat.At(i, 0).Double());
  }
  auto calls = conn->ExecRawOne(
      "SELECT count(*) FILTER (WHERE NOT cache_hit), count(*) FILTER (WHERE cache_hit) "
      "FROM llm_calls WHERE thread_id > " +
      std::to_string(first_thread));
  run.calls = calls.At(0, 0).Int64();
  run.cache_hits = calls.At(0, 1).Int64();
  WaitForZero(*conn, kJobsInFlight, std::chrono::seconds(30));  // nothing left for the next run
  if (consulting) consulting->Stop();
  runtime.Stop();
  return run;
}

json Spread(const std::vector<double>& v) {
  json j = json::object();
  j["p50"] = Percentile(v, 0.5);
  j["p99"] = Percentile(v, 0.99);
  return j;
}

json Figures(const Run& r) {
  json j = json::object();
  j["sure_texts"] = r.sure;
  j["sure_per_sec"] = r.sure_seconds > 0 ? r.sure / r.sure_seconds : 0;
  j["sure_latency_ms"] = Spread(r.sure_latency_ms);
  j["routing_ms"] = Spread(r.routing_ms);
  j["model_routing_ms"] = Spread(r.model_routing_ms);
  j["model_calls"] = r.calls;
  j["cache_hits"] = r.cache_hits;
  return j;
}

}  // namespace

int RunRouterBench(const Flags& f) {
  const std::vector<std::string> set =
      DevelopmentSet(f.Str("--messages", "tests/data/messages.json"));
  const Config base = BenchConfig(Config::Load(f.Str("--config", "config/clubos.example.json")));
  const int latency = static_cast<int>(f.Int("--llm-latency-ms", 300, 0, 60'000));
  const int slow_latency = static_cast<int>(f.Int("--slow-llm-latency-ms", 1500, 0, 60'000));
  const int repeat = static_cast<int>(f.Int("--repeat", 3, 1, 100));
  const int concurrency = static_cast<int>(f.Int("--concurrency", 8, 1, 1000));
  const int rate = static_cast<int>(f.Int("--rate", 20, 1, 10'000));

  const std::string knowledge_dir = f.Str("--knowledge", "knowledge");
  RetrievalBenchOptions retrieval_options;
  retrieval_options.location = base.locations.front().id;
  retrieval_options.synthetic = static_cast<int>(f.Int("--knowledge-entries", 5000, 1, 100'000));
  retrieval_options.rounds = static_cast<int>(f.Int("--retrieval-rounds", 5, 1, 1000));
  retrieval_options.dump_path = f.Str("--retrieval-dump", "");
  retrieval_options.seed = static_cast<uint64_t>(f.Int("--knowledge-seed", 1, 0, 1'000'000'000));

  // Retrieval first, on the shipped knowledge and then with the synthetic documents in a
  // transaction rolled back, so that the flow runs below route with the shipped knowledge alone.
  BenchDb db;
  ImportBenchKnowledge(db.url, knowledge_dir);
  const json retrieval = RunRetrievalBench(db.url, set, retrieval_options);
  std::printf("retrieval at %s over %zu texts x %d rounds, ms p50 / p95 / p99:\n",
              retrieval_options.location.c_str(), set.size(), retrieval_options.rounds);
  for (const char* k : {"shipped", "with_synthetic"})
    std::printf("  %5lld entries: %.2f / %.2f / %.2f\n",
                static_cast<long long>(retrieval[k]["entries"].get<int64_t>()),
                retrieval[k]["p50_ms"].get<double>(), retrieval[k]["p95_ms"].get<double>(),
                retrieval[k]["p99_ms"].get<double>());
  if (f.Has("--retrieval-only")) {
    std::printf("%s\n", json{{"bench", "router"}, {"retrieval", retrieval}}.dump().c_str());
    return 0;
  }

  // Which texts the patterns answer alone: exactly the decision routing makes, with the FAQ the
  // flow will route with.
  const auto knowledge = workflows::KnowledgeSnapshot::FromFolder(knowledge_dir, base);
  const workflows::FaqTable& faq = knowledge->Faq(base.locations.front().id);
  const workflows::PatternRouter router(base.router);
  const auto profile = workflows::Profile::FromJson(base.policy_json);
  std::vector<std::string> texts;
  std::vector<bool> sure;
  int asked = 0;
  for (int r = 0; r < repeat; ++r)
    for (const auto& t : set) {
      const auto intent = router.Route({t}, faq);
      const auto rules = profile.categories.find(intent.category);
      const double threshold =
          rules == profile.categories.end() ? 1.0 : rules->second.confidence_threshold;
      const bool alone =
          workflows::PatternsSuffice(intent, threshold, base.integrations.llm.always_ask);
      texts.push_back(t);
      sure.push_back(alone);
      if (r == 0 && !alone) ++asked;
    }

  ::setenv("CLUBOS_LLM_API_KEY", "bench-llm-key", 0);
  Config with_model = base;
  sim::SimOptions so;
  so.llm_latency = Millis(latency);
  sim::InProcessSim simulator(with_model, so, SystemClock::Instance(), 16);
  with_model.integrations.llm.base_url = simulator.url();
  Config without_model = base;
  without_model.integrations.llm.base_url.clear();

  // The simulated model's latency, changed between runs the way an operator would (PUT /_sim/llm).
  auto model_latency = [&](int ms) {
    const auto r = integrations::Send({.method = "PUT",
                                       .url = simulator.url() + "/_sim/llm",
                                       .headers = {{"Content-Type", "application/json"}},
                                       .body = json{{"latency_ms", ms}}.dump()});
    if (r.status != 200) throw std::runtime_error("the simulated model refused: " + r.body);
  };

  std::vector<json> off, on, slow;
  // Throughput: every text at once, the model path off, on, and on with a slow model,
  // interleaved so that the disk's and the machine's drift falls on all alike. The sure texts
  // must not wait for the model: `slow` against `on` says whether they do.
  int nonce = 300;
  for (int i = 0; i < 3; ++i) {
    off.push_back(Figures(RunFlow(without_model, db.url, texts, sure, concurrency, nonce++, 0)));
    on.push_back(Figures(RunFlow(with_model, db.url, texts, sure, concurrency, nonce++, 0)));
    model_latency(slow_latency);
    slow.push_back(Figures(RunFlow(with_model, db.url, texts, sure, concurrency, nonce++, 0)));
    model_latency(latency);
  }
  // Latency: the development set once, at a steady rate (a burst measures the queue, not routing).
  const std::vector<std::string> once(texts.begin(), texts.begin() + static_cast<long>(set.size()));
  const std::vector<bool> once_sure(sure.begin(), sure.begin() + static_cast<long>(set.size()));
  const json paced_off =
      Figures(RunFlow(without_model, db.url, once, once_sure, concurrency, nonce++, rate));
  const json paced_on =
      Figures(RunFlow(with_model, db.url, once, once_sure, concurrency, nonce++, rate));
  auto median = [](const std::vector<json>& runs, const char* a, const char* b = nullptr) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(b ? r[a][b].get<double>() : r[a].get<double>());
    return Percentile(v, 0.5);
  };
  const double share = static_cast<double>(asked) / static_cast<double>(set.size());
  const json out = {
      {"bench", "router"},
      {"texts", set.size()},
      {"repeat", repeat},
      {"llm_latency_ms", latency},
      {"slow_llm_latency_ms", slow_latency},
      {"asked_share", share},
      {"calls_saved_vs_always_asking", 1.0 - share},
      {"rate", rate},
      {"paced_off", paced_off},
      {"paced_on", paced_on},
      {"off", off},
      {"on", on},
      {"slow", slow},
      {"retrieval", retrieval},
      {"median",
       {{"off_sure_per_sec", median(off, "sure_per_sec")},
        {"on_sure_per_sec", median(on, "sure_per_sec")},
        {"slow_sure_per_sec", median(slow, "sure_per_sec")},
        {"on_vs_off_sure_throughput", median(on, "sure_per_sec") / median(off, "sure_per_sec")},
        {"slow_vs_on_sure_throughput", median(slow, "sure_per_sec") / median(on, "sure_per_sec")},
        {"slow_vs_on_sure_latency_p99",
         median(slow, "sure_latency_ms", "p99") / median(on, "sure_latency_ms", "p99")},
        {"burst_on_model_routing_ms_p50", median(on, "model_routing_ms", "p50")},
        {"burst_on_model_routing_ms_p99", median(on, "model_routing_ms", "p99")},
        {"on_model_calls", median(on, "model_calls")},
        {"on_cache_hits", median(on, "cache_hits")}}}};
  std::printf(
      "patterns alone: %d of %zu texts need the model (%.0f%%; asking every time would be "
      "%zu calls)\n",
      asked, set.size(), 100 * share, set.size());
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace clubos::app
