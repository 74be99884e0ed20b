// clubos bench sites: many locations' traffic through the whole flow at rising rates, until the
// flow no longer keeps up: where one primary (and this many workers) saturates on this machine,
// the simulated half of docs/scaling.md.
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "app/bench_common.h"
#include "app/flow_wiring.h"
#include "core/config.h"
#include "core/log.h"
#include "workers/runtime.h"

namespace clubos::app {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;

// N locations made from the configuration's first: their own ids, phone line, bay and door
// devices, so that no two sites share a device's lock or a conversation.
Config SitesConfig(const std::string& path, int locations) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read " + path);
  json j = json::parse(in);
  const json model = j.at("facility").at("locations").at(0);
  json sites = json::array();
  for (int n = 1; n <= locations; ++n) {
    char id[32], line[32];
    std::snprintf(id, sizeof id, "site-%03d", n);
    std::snprintf(line, sizeof line, "+1555%07d", 7'000'000 + n);
    json l = model;
    l["id"] = id;
    l["name"] = std::string("Site ") + std::to_string(n);
    l["phone_lines"] = json::array({line});
    for (auto& b : l["bays"])
      b["device_id"] = std::string(id) + "-bay-" + std::to_string(b.at("number").get<int>());
    int d = 0;
    for (auto& door : l["doors"]) {
      door["id"] = std::string(id) + "-door-" + std::to_string(++d);
      char uuid[40];  // a UniFi door id is a UUID
      std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", n * 100 + d);
      door["device_id"] = uuid;
    }
    sites.push_back(l);
  }
  j["facility"]["locations"] = sites;
  return Config::Parse(j.dump());
}

std::vector<int> Rates(const std::string& list) {
  std::vector<int> rates;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const long r = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || r < 1 || r > 100'000 || (!rates.empty() && r <= rates.back()))
      throw UsageError("--rates must be rising whole numbers of texts per second, 1..100000");
    rates.push_back(static_cast<int>(r));
  }
  if (rates.empty()) throw UsageError("--rates needs at least one rate");
  return rates;
}

}  // namespace

int RunSitesBench(const Flags& f) {
  const int locations = static_cast<int>(f.Int("--locations", 50, 1, 999));
  const std::vector<int> rates = Rates(f.Str("--rates", "5,10,20,40,80,160,320"));
  const int step_seconds = static_cast<int>(f.Int("--step-seconds", 10, 1, 3'600));
  const int concurrency = static_cast<int>(f.Int("--concurrency", 8, 1, 1000));
  const double p99_limit_ms = static_cast<double>(f.Int("--p99-limit-ms", 2'000, 1, 600'000));
  Config config = SitesConfig(f.Str("--config", "config/clubos.example.json"), locations);
  UnbrakeForBench(config);

  BenchDb db;
  ImportBenchKnowledge(db.url, f.Str("--knowledge", "knowledge"));
  workers::Registry registry;
  FlowWiring wiring(std::move(config), FacilityKind::kFakeInMemory, db.url, registry);
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<int64_t, Steady::time_point> started;  // the step's texts not yet at rest
  // Threads that rested before their sender recorded them (or an earlier step's, resting again).
  std::unordered_map<int64_t, Steady::time_point> rested_first;
  std::vector<double> latencies;
  Steady::time_point last_rest;
  int rested = 0;
  auto count_rest = [&](Steady::time_point begin, Steady::time_point at) {  // under mu
    latencies.push_back(std::chrono::duration<double, std::milli>(at - begin).count());
    last_rest = std::max(last_rest, at);
    ++rested;
    cv.notify_all();
  };
  wiring.flow.OnRest([&](int64_t thread_id, const std::string&) {
    const auto now = Steady::now();
    std::lock_guard lk(mu);
    const auto it = started.find(thread_id);
    if (it == started.end()) {
      rested_first.emplace(thread_id, now);
      return;
    }
    count_rest(it->second, now);
    started.erase(it);
  });
  workers::RuntimeOptions opt;
  opt.database_url = db.url;
  opt.concurrency = concurrency;
  workers::Runtime runtime(opt, registry, SystemClock::Instance());
  auto probe = store::Connect(db.url);
  runtime.Start();

  const int nonce = 200 + static_cast<int>(Steady::now().time_since_epoch().count() / 1000 % 800);
  int64_t sent_total = 0;
  std::optional<int> kept_up, saturated;
  json steps = json::array();
  for (const int rate : rates) {
    const int texts = rate * step_seconds;
    {
      std::lock_guard lk(mu);
      latencies.clear();
      rested = 0;
    }
    // Four senders interleave one schedule: the step's text i is due at i / rate s, and its
    // latency counts from then (a sender that falls behind is part of what is measured).
    const auto t0 = Steady::now();
    std::atomic<int> next{0}, refused{0};
    std::vector<std::thread> senders;
    for (int s = 0; s < 4; ++s)
      senders.emplace_back([&] {
        auto conn = store::Connect(db.url);
        for (int i; (i = next++) < texts;) {
          const auto due = t0 + std::chrono::microseconds(int64_t{1'000'000} * i / rate);
          std::this_thread::sleep_until(due);
          const int64_t g = sent_total + i;  // over all steps: every bay gets its turn
          const Location& site = wiring.config.locations[static_cast<std::size_t>(g % locations)];
          const auto& bay = site.bays[static_cast<std::size_t>(g / locations) % site.bays.size()];
          char phone[24];
          std::snprintf(phone, sizeof phone, "+1%03d%07lld", nonce, static_cast<long long>(g));
          workflows::IntakeResult in;
          try {
            in = wiring.flow.Intake(
                *conn, {phone, site.phone_lines.front(),
                        "the trackman in bay " + std::to_string(bay.number) + " is frozen", ""});
          } catch (const std::exception& e) {  // intake refused it: the step did not keep up
            if (refused++ == 0) log::Get()->warn("bench sites: intake failed: {}", e.what());
            continue;
          }
          std::lock_guard lk(mu);
          if (const auto early = rested_first.find(in.thread_id); early != rested_first.end()) {
            count_rest(due, early->second);
            rested_first.erase(early);
          } else {
            started.emplace(in.thread_id, due);
          }
        }
      });
    for (auto& t : senders) t.join();
    sent_total += texts;
    const double sending_s = std::chrono::duration<double>(Steady::now() - t0).count();
    bool all_rested = false;
    {
      std::unique_lock lk(mu);
      all_rested = cv.wait_for(lk, std::chrono::seconds(3 * step_seconds + 30), [&] {
        return rested >= texts - refused;
      }) && refused == 0;
    }
    std::vector<double> lat;
    double seconds = 0;
    {
      std::lock_guard lk(mu);
      lat = latencies;
      seconds = std::chrono::duration<double>(last_rest - t0).count();
    }
    const double achieved = all_rested && seconds > 0 ? texts / seconds : 0;
    const double p99 = Percentile(lat, 0.99);
    // Kept up: every text rested, p99 within the limit, and the step's work done within the limit
    // of its end (no backlog carried past it).
    const bool keeps_up =
        all_rested && p99 <= p99_limit_ms && seconds * 1000 <= step_seconds * 1000 + p99_limit_ms;
    json step = {{"rate", rate},
                 {"texts_per_site_per_hour", static_cast<double>(rate) * 3600 / locations},
                 {"texts", texts},
                 {"sending_seconds", sending_s},
                 {"rested", static_cast<int>(lat.size())},
                 {"refused", refused.load()},
                 {"rested_per_sec", achieved},
                 {"latency_ms", {{"p50", Percentile(lat, 0.5)}, {"p99", p99}}},
                 {"keeps_up", keeps_up}};
    std::printf("%s\n", step.dump().c_str());
    std::fflush(stdout);
    steps.push_back(step);
    // The step's last replies finish before the next step starts, so each step is measured alone.
    if (!WaitForZero(*probe, kJobsInFlight, std::chrono::seconds(120)))
      log::Get()->warn("bench sites: jobs of the {}/s step still running after 120 s", rate);
    {
      std::lock_guard lk(mu);
      started.clear();
      rested_first.clear();
    }
    if (!keeps_up) {
      saturated = rate;
      break;
    }
    kept_up = rate;
  }
  runtime.Stop();
  const json out = {
      {"bench", "sites"},
      {"locations", locations},
      {"concurrency", concurrency},
      {"step_seconds", step_seconds},
      {"p99_limit_ms", p99_limit_ms},
      {"highest_rate_kept_up", kept_up ? json(*kept_up) : json(nullptr)},
      {"first_rate_saturated", saturated ? json(*saturated) : json(nullptr)},
      {"texts_per_site_per_hour_kept_up",
       kept_up ? json(static_cast<double>(*kept_up) * 3600 / locations) : json(nullptr)},
      {"steps", steps}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace clubos::app
