// The customer flow part of `clubos demo`: a morning of texts at a two-location facility, played
// through intake, routing, policy, confirmation, execution against the simulated facility,
// verification and escalation, with real workers on the real database. Prints what happened.
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "app/commands.h"
#include "app/flow_wiring.h"
#include "core/log.h"
#include "store/db.h"
#include "workers/runtime.h"
#include "workflows/fake_facility.h"

namespace clubos::app {
namespace {

using Steady = std::chrono::steady_clock;

struct Customer {
  std::string who;  // for the printout
  std::vector<std::string> texts;
  std::string reply;  // sent once ClubOS asks for a confirmation ("" = never answers)
};

}  // namespace

int DemoFlow(const std::string& url, const std::string& config_path) {
  Config config = Config::Load(config_path);
  // Demo pace: seconds, not minutes.
  config.flow.debounce = Millis(600);
  config.flow.confirmation_ttl = Millis(4'000);
  config.flow.verify_timeout = Millis(2'500);
  config.integrations.verify_timeout.clear();
  config.flow.verify_poll = Millis(250);
  config.flow.retry_base = Millis(100);
  config.flow.retry_cap = Millis(400);
  workers::Registry registry;
  FlowWiring wiring(std::move(config), FacilityKind::kFakeDb, url, registry);
  auto& fake = static_cast<workflows::FakeFacility&>(*wiring.facility);
  fake.ClearFaults();
  store::Connect(url)->ExecRawOne("TRUNCATE fake_facility_calls");  // this run's calls only
  fake.SetFault("105", "stuck_offline", 1'000);                     // bay 5's PC will not come back
  workflows::Flow& flow = wiring.flow;
  workers::RuntimeOptions opt;
  opt.database_url = url;
  opt.name = "demo-flow";
  opt.concurrency = 4;
  workers::Runtime runtime(opt, registry, SystemClock::Instance());
  runtime.Start();

  // New customers every run (the demo database is kept between runs).
  std::random_device rd;
  const int nonce = 100 + static_cast<int>(rd() % 800);
  auto phone = [&](int i) { return "+1555" + std::to_string(nonce) + std::to_string(1000 + i); };
  const std::string bedford = wiring.config.locations.front().phone_lines.front();
  const std::vector<Customer> customers = {
      {"a golfer asking prices", {"how much for an hour?"}, ""},
      {"a frozen TrackMan, split over three texts",
       {"hey", "the trackman in bay 3 is frozen", "pls help"},
       "YES"},
      {"a door code that fails, then changes their mind",
       {"my code isn't opening the front door"},
       "no"},
      {"smoke from a projector", {"there's smoke coming from the projector!!"}, ""},
      {"a reset whose PC never comes back", {"can you restart trackman 5 please"}, "yes"},
      {"an angry refund request", {"I want my money back, the sim was broken the whole time"}, ""},
      {"a keypad that is dead, and no answer to the prompt", {"door keypad is dead"}, ""},
      {"a bay that does not exist", {"trackman frozen bay 99"}, ""},
  };
  std::puts("\ncustomer flow: texts arriving at Bedford");
  auto db = store::Connect(url);
  std::map<int64_t, std::size_t> thread_of;
  const auto t0 = Steady::now();
  for (std::size_t i = 0; i < customers.size(); ++i) {
    for (const auto& text : customers[i].texts) {
      const auto in = flow.Intake(*db, {phone(static_cast<int>(i)), bedford, text, ""});
      thread_of[in.thread_id] = i;
      std::printf("  %s  %-58s -> thread %lld\n",
                  log::MaskPhone(phone(static_cast<int>(i))).c_str(), ("\"" + text + "\"").c_str(),
                  static_cast<long long>(in.thread_id));
    }
  }
  auto state_of = [&](int64_t id) {
    return db->ExecSql("SELECT state FROM threads WHERE id = $1", {id}).At(0, 0).Str();
  };
  std::map<int64_t, bool> answered;
  for (int tick = 0; tick < 200; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    bool all_rest = true;
    for (const auto& [id, i] : thread_of) {
      const std::string st = state_of(id);
      if (st == "awaiting_confirmation" && !answered[id] && !customers[i].reply.empty()) {
        answered[id] = true;
        flow.Intake(*db, {phone(static_cast<int>(i)), bedford, customers[i].reply, ""});
        std::printf("  %s  %-58s (a reply to ClubOS's question)\n",
                    log::MaskPhone(phone(static_cast<int>(i))).c_str(),
                    ("\"" + customers[i].reply + "\"").c_str());
      }
      all_rest &= st == "verified" || st == "closed" || st == "escalated";
    }
    if (all_rest) break;
  }
  const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  runtime.Stop();

  std::puts("\nwhat happened");
  for (const auto& [id, i] : thread_of) {
    auto t = db->ExecSql(
        "SELECT state, coalesce(escalation_reason, '') AS reason, coalesce(intent ->> 'category', "
        "'') AS category, "
        "coalesce(decision ->> 'outcome', '') AS outcome FROM threads WHERE id = $1",
        {id});
    std::printf(
        "  thread %lld, %s:\n    routed as %s, decided %s, now %s%s\n", static_cast<long long>(id),
        customers[i].who.c_str(),
        t.At(0, "category").Str().empty() ? "-" : t.At(0, "category").Str().c_str(),
        t.At(0, "outcome").Str().c_str(), t.At(0, "state").Str().c_str(),
        t.At(0, "reason").Str().empty() ? "" : (" (" + t.At(0, "reason").Str() + ")").c_str());
    auto acts = db->ExecSql(
        "SELECT kind, state, coalesce(result, '-') AS result, coalesce(params ->> 'role', '') AS "
        "role, "
        "coalesce(params ->> 'text', '') AS text FROM actions WHERE thread_id = $1 ORDER BY id",
        {id});
    for (std::size_t a = 0; a < acts.Size(); ++a) {
      std::string line = acts.At(a, "kind").Str() + " (" + acts.At(a, "role").Str() + ") " +
                         acts.At(a, "state").Str() + ", result " + acts.At(a, "result").Str();
      if (!acts.At(a, "text").Str().empty())
        line += ": \"" + acts.At(a, "text").Str().substr(0, 70) + "\"";
      std::printf("    - %s\n", line.c_str());
    }
  }
  auto calls = db->ExecRawOne(
      "SELECT kind, count(*) AS n FROM fake_facility_calls GROUP BY kind ORDER BY kind");
  std::puts("\nthe simulated facility saw (database table fake_facility_calls)");
  for (std::size_t c = 0; c < calls.Size(); ++c)
    std::printf("  %-16s %lld\n", calls.At(c, "kind").Str().c_str(),
                static_cast<long long>(calls.At(c, "n").Int64()));
  std::printf("\nall %zu threads at rest after %.1f s. The full story of any thread:\n",
              thread_of.size(), seconds);
  std::printf(
      "  psql \"%s\" -c \"SELECT entity, entity_id, from_state, event, to_state, actor, reason "
      "FROM transitions "
      "WHERE entity = 'thread' AND entity_id = %lld OR entity = 'action' AND entity_id IN (SELECT "
      "id FROM actions "
      "WHERE thread_id = %lld) ORDER BY id\"\n",
      url.c_str(), static_cast<long long>(thread_of.begin()->first),
      static_cast<long long>(thread_of.begin()->first));
  return 0;
}

}  // namespace clubos::app
