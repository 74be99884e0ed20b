#include "simulation/simulator.h"

#include "statemachines/action_machine.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <set>
#include <sstream>

#include "core/action_kinds.h"
#include "core/clock.h"
#include "simulation/facility.h"
#include "simulation/history.h"
#include "statemachines/action_machine.h"
#include "store/db.h"
#include "workers/job.h"
#include "workers/queue_ops.h"
#include "workers/run_job.h"
#include "workflows/errors.h"
#include "workflows/flow.h"
#include "workflows/router.h"

namespace clubos::simulation {

namespace sm = clubos::sm;

using nlohmann::json;
using std::chrono::seconds;

namespace {

// A fixed instant, so nothing depends on the day the simulation runs (every statement of the flow
// stamps the injected clock). 2040-06-15 17:00 UTC, mid-afternoon in Halifax.
constexpr int64_t kStartEpochSeconds = 2'223'392'400;
constexpr Millis kLease{30'000};

struct Failure {
  std::string invariant, detail;
};

const std::string_view kRestingThreads[] = {sm::thread_state::kVerified, sm::thread_state::kClosed,
                                            sm::thread_state::kEscalated};
const std::string_view kRestingActions[] = {
    sm::action_state::kVerified, sm::action_state::kEscalated, sm::action_state::kRejected,
    sm::action_state::kCancelled};

bool In(const std::string& s, const std::string_view* b, const std::string_view* e) {
  return std::find(b, e, s) != e;
}

}  // namespace

Config SimulationConfig(const std::string& path) {
  Config c = Config::Load(path);
  // The verification window is the only wait the simulation shortens: each poll is a job run, and
  // 90 polls of a stuck PC teach nothing 6 do not. Debounce, confirmation, cooldowns, close-after
  // and the retry backoff are the configuration's.
  c.flow.verify_timeout = Millis(60'000);
  c.flow.verify_poll = Millis(10'000);
  c.integrations.verify_timeout.clear();
  return c;
}

// Everything one seed's run holds.
struct Simulator::Run_ {
  Run_(Simulator& s, uint64_t seed)
      : sim(s),
        rng(seed),
        clock(TimePoint(seconds(kStartEpochSeconds))),
        router(s.config_.router),
        facility(clock, rng, {}, crash),
        flow(s.config_, router, facility, clock) {
    result.seed = seed;
    flow.knowledge().Pin(s.knowledge_);
  }

  Simulator& sim;
  std::mt19937_64 rng;
  FakeClock clock;
  CrashPlan crash;
  workflows::PatternRouter router;
  SimFacility facility;
  workflows::Flow flow;
  workers::Registry registry;
  SimResult result;

  // The timeline of what happens outside the workers, in (time, sequence) order.
  struct Event {
    TimePoint at;
    int64_t seq;
    std::string what;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  int64_t event_seq = 0;

  // The stepper's view of the jobs.
  int worker = 1;                    // a crash kills the worker; the next one takes over
  std::map<int64_t, int> completed;  // job -> completions the stepper saw
  std::set<int64_t> fetched, dead, abandoned;
  std::set<int64_t> jobs_present;  // in the jobs table after the last step
  std::set<int64_t> completed_this_step;

  // Invariant state.
  HistoryWalk walk;
  std::size_t calls_checked = 0;
  std::map<int64_t, int> maybe_effective_calls, effects;  // per action
  std::map<std::string, int> autonomous_unlocks;          // per booking: effective ones
  std::map<std::string, bool> stops;                      // scope -> engaged (what we applied)
  int cooldown_tech = 0, cooldown_access = 0, max_unlocks = 1;
  std::optional<Failure> failure;

  // Customers.
  struct Customer {
    std::string phone, line, location;
    int texts = 0, replies = 0;
  };
  std::vector<Customer> customers;
  std::map<std::string, std::size_t> by_phone;

  std::string Owner() const { return "sim-worker-" + std::to_string(worker); }
  double U() { return std::uniform_real_distribution<double>(0, 1)(rng); }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  Millis Ms(int64_t lo, int64_t hi) {
    return Millis(std::uniform_int_distribution<int64_t>(lo, hi)(rng));
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }
  TimePoint Start() const { return TimePoint(seconds(kStartEpochSeconds)); }

  void Trace(const std::string& line) {
    char buf[32];
    const double t = std::chrono::duration<double>(clock.Now() - Start()).count();
    std::snprintf(buf, sizeof buf, "[%9.3fs] ", t);
    result.trace.push_back(buf + line);
    for (unsigned char c : result.trace.back()) {  // FNV-1a
      result.fingerprint ^= c;
      result.fingerprint *= 1099511628211ULL;
    }
  }
  void Fail(const std::string& invariant, const std::string& detail) {
    if (failure) return;
    failure = Failure{invariant, detail};
    Trace("INVARIANT " + invariant + ": " + detail);
  }
  void At(TimePoint at, std::string what, std::function<void()> fn) {
    events.push({at, ++event_seq, std::move(what), std::move(fn)});
  }

  store::Connection& db() { return *sim.db_; }

  // ---- the scenario ---------------------------------------------------------------------------

  void Plan();
  void Deliver(const workflows::InboundMessage& msg, int tries);
  void Text(std::size_t c, const std::string& body, TimePoint sent, Millis max_delay);
  void OnText(const std::string& phone, const std::string& text);
  void Controls(const workflows::ControlsRequest& req, const std::string& what);
  void Approve();

  // ---- the stepper ----------------------------------------------------------------------------

  void Drive();
  void RunJob(const workers::Job& job);
  void Maintenance();
  std::optional<TimePoint> NextWake();

  // ---- the invariants -------------------------------------------------------------------------

  void CheckStep();
  void CheckCalls();
  void CheckCooldowns();
  void CheckJobs();
  void CheckAtRest();
};

void Simulator::Run_::Plan() {
  const json policy = json::parse(sim.config_.policy_json);
  auto cooldown = [&](const char* cat) {
    return policy.contains(cat) ? policy[cat].value("cooldown_seconds", 0) : 0;
  };
  cooldown_tech = cooldown("tech");
  cooldown_access = cooldown("access");
  if (policy.contains("limits")) max_unlocks = policy["limits"].value("max_unlocks_per_booking", 1);

  // How rough this seed's world is.
  const double weather = Pick(std::vector<double>{0.0, 0.05, 0.15, 0.35});
  FaultRates f;
  f.timeout_done = weather * 0.15;
  f.timeout_not_done = weather * 0.15;
  f.server_error = weather * 0.1;
  f.rate_limited = weather * 0.15;
  f.unavailable = weather * 0.1;
  f.rejected = weather * 0.05;
  f.swallowed = weather * 0.1;
  f.stuck = weather * 0.05;
  f.unreadable = weather * 0.1;
  f.slow_effect = 0.3;
  f.notify_fails = weather * 0.3;
  facility.SetFaults(f);
  facility.on_text = [this](const std::string& phone, const std::string& text) {
    OnText(phone, text);
  };
  crash.rate = Pick(std::vector<double>{0.0, 0.0, 0.02, 0.05, 0.1});
  crash.budget = Int(0, 4);
  Trace("world: weather " + std::to_string(weather) + ", crash rate " + std::to_string(crash.rate) +
        " budget " + std::to_string(crash.budget));

  // Customers, their bookings and their texts.
  const int n = Int(sim.options_.min_customers, sim.options_.max_customers);
  result.customers = n;
  const std::vector<std::string> followups = {"??",
                                              "hello?",
                                              "thanks!",
                                              "still frozen",
                                              "never mind it works now",
                                              "door still locked",
                                              "can someone call me"};
  for (int i = 0; i < n; ++i) {
    const Location& loc = sim.config_.locations[static_cast<std::size_t>(
        Int(0, static_cast<int>(sim.config_.locations.size()) - 1))];
    char phone[32];
    std::snprintf(phone, sizeof phone, "+1555030%04d", i + 1);
    customers.push_back({phone, loc.phone_lines.front(), loc.id});
    by_phone[phone] = static_cast<std::size_t>(i);
    if (U() < 0.75) {
      // Mostly within the access window; now and then tomorrow's.
      const TimePoint start =
          clock.Now() + (U() < 0.1 ? Millis(20 * 3'600'000) : -Millis(1'800'000));
      const int bay = loc.bays.empty() ? 1 : Pick(loc.bays).number;
      db().ExecSql(
          "INSERT INTO bookings (id, location, bay, customer_phone, start_at, end_at) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
          {"sim-booking-" + std::to_string(i + 1), loc.id, bay, std::string(phone), start,
           start + Millis(2 * 3'600'000)});
    }
    const int bay = loc.bays.empty() ? 1 : Pick(loc.bays).number;
    const std::vector<std::string> generated = {
        "the trackman in bay " + std::to_string(bay) + " froze",
        "bay " + std::to_string(bay) + " simulator not tracking my shots, can you reset it",
        "can you restart trackman " + std::to_string(bay) + " please",
        "my code isn't opening the front door",
        "door won't unlock, I'm outside",
        "the trackman in bay " + std::to_string(bay) + " froze",
        "can you restart trackman " + std::to_string(bay) + " please",
        "my code isn't opening the front door",
        "what are your hours?",
        "I want a refund for yesterday",
        "screen is frozen in bay " + std::to_string(bay + 7)};
    const std::string first =
        (U() < 0.35 && !sim.texts_.empty()) ? Pick(sim.texts_) : Pick(generated);
    const TimePoint sent = clock.Now() + Ms(0, 600'000);
    Text(static_cast<std::size_t>(i), first, sent, Millis(30'000));
    if (U() < 0.3)
      Text(static_cast<std::size_t>(i), Pick(followups), sent + Ms(1'000, 20'000), Millis(5'000));
  }

  // The operators: the emergency stop and the toggles, flipped mid-flow.
  const std::vector<std::string> scopes = {"global", "location:bedford", "location:dartmouth",
                                           "category:tech", "category:access"};
  if (U() < 0.35) {
    const std::string scope = Pick(scopes);
    const TimePoint on = clock.Now() + Ms(0, 900'000);
    workflows::ControlsRequest engage;
    engage.stop = workflows::ControlsRequest::Stop{scope, true, "sim: water on the floor"};
    At(on, "stop " + scope + " engaged",
       [this, engage, scope] { Controls(engage, "engage " + scope); });
    if (U() < 0.8) {
      workflows::ControlsRequest release;
      release.stop = workflows::ControlsRequest::Stop{scope, false, "sim: all clear"};
      At(on + Ms(60'000, 1'200'000), "stop " + scope + " released",
         [this, release, scope] { Controls(release, "release " + scope); });
    }
  }
  for (const char* toggle : {"auto_execute", "auto_send"}) {
    if (U() >= 0.25) continue;
    const TimePoint off = clock.Now() + Ms(0, 600'000);
    At(off, std::string(toggle) + " off", [this, toggle] {
      Controls({.toggles = {{toggle, false}}}, std::string(toggle) + " off");
    });
    At(off + Ms(60'000, 900'000), std::string(toggle) + " on", [this, toggle] {
      Controls({.toggles = {{toggle, true}}}, std::string(toggle) + " on");
    });
    for (int k = 0; k < 3; ++k)
      At(off + Ms(30'000, 1'200'000), "operator reviews", [this] { Approve(); });
  }
  // Clock jumps (NTP steps, a suspended VM): leases, confirmations and cooldowns all pass at once.
  if (U() < 0.2) {
    const Millis jump = Ms(120'000, 2'700'000);
    At(clock.Now() + Ms(0, 1'200'000), "clock jump", [this, jump] {
      clock.Advance(jump);
      Trace("clock jumps " + std::to_string(jump.count() / 1000) + " s");
    });
  }
}

void Simulator::Run_::Text(std::size_t c, const std::string& body, TimePoint sent,
                           Millis max_delay) {
  Customer& cu = customers[c];
  workflows::InboundMessage msg{cu.phone, cu.line, body,
                                "sim-" + std::to_string(c + 1) + "-" + std::to_string(++cu.texts),
                                "openphone"};
  // The provider's delivery: late (so texts may arrive out of order), and now and then twice.
  At(sent + Ms(0, max_delay.count()), "webhook " + msg.external_id,
     [this, msg] { Deliver(msg, 0); });
  if (U() < 0.2)
    At(sent + Ms(0, 120'000), "webhook again " + msg.external_id, [this, msg] { Deliver(msg, 0); });
}

void Simulator::Run_::Deliver(const workflows::InboundMessage& msg, int tries) {
  crash.armed = true;
  try {
    const auto r = flow.Intake(db(), msg);
    crash.armed = false;
    Trace("intake " + msg.external_id + " from customer " + msg.from.substr(8) + " \"" + msg.body +
          "\" -> thread " + std::to_string(r.thread_id) + (r.duplicate ? " (duplicate)" : ""));
  } catch (const SimulatedCrash& e) {
    crash.armed = false;
    // The webhook was not acknowledged: the provider delivers it again.
    Trace(std::string(e.what()) + " during intake of " + msg.external_id + "; redelivered later");
    At(clock.Now() + Ms(1'000, 30'000), "webhook retry " + msg.external_id,
       [this, msg, tries] { Deliver(msg, tries + 1); });
  } catch (const std::exception& e) {
    crash.armed = false;
    Fail("intake_accepts", msg.external_id + ": " + e.what());
  }
}

void Simulator::Run_::OnText(const std::string& phone, const std::string& text) {
  auto it = by_phone.find(phone);
  if (it == by_phone.end()) return;
  Customer& cu = customers[it->second];
  if (text.find("Reply YES") == std::string::npos || cu.replies >= 2) return;
  ++cu.replies;
  const double r = U();
  std::string reply;
  if (r < 0.7)
    reply = Pick(std::vector<std::string>{"yes", "YES", "ok do it", "y", "Yes please"});
  else if (r < 0.8)
    reply = Pick(std::vector<std::string>{"no", "nope", "no thanks"});
  else if (r < 0.88)
    reply = Pick(std::vector<std::string>{"what? it's still broken", "thanks", "maybe"});
  else
    return;  // never answers
  // Sometimes after the confirmation expired.
  Text(it->second, reply, clock.Now() + Ms(2'000, 420'000), Millis(3'000));
}

void Simulator::Run_::Controls(const workflows::ControlsRequest& req, const std::string& what) {
  try {
    const int stopped = flow.ApplyControls(db(), req, "sim-operator");
    if (req.stop) stops[req.stop->scope] = req.stop->engaged;
    Trace("controls: " + what + " (" + std::to_string(stopped) + " actions stopped)");
  } catch (const std::exception& e) {
    Fail("controls_apply", what + ": " + e.what());
  }
}

void Simulator::Run_::Approve() {
  auto r = db().ExecSql("SELECT id FROM suggestions WHERE state = 'pending' ORDER BY id", {});
  for (std::size_t i = 0; i < r.Size(); ++i) {
    const int64_t id = r.At(i, "id").Int64();
    if (U() < 0.3) continue;  // left for later
    workflows::Approver who{"sim-op", U() < 0.5, ""};
    if (who.admin && U() < 0.5) who.stop_override = "sim: checked on camera";
    try {
      const int64_t action = flow.ApproveSuggestion(db(), id, who);
      Trace("suggestion " + std::to_string(id) + " approved -> action " + std::to_string(action));
    } catch (const workflows::IllegalTransition& e) {
      Trace("suggestion " + std::to_string(id) + ": " + e.what());
    } catch (const workflows::Conflict& e) {
      Trace("suggestion " + std::to_string(id) + ": " + e.what());
    } catch (const workflows::Forbidden& e) {
      Trace("suggestion " + std::to_string(id) + ": " + e.what());
    } catch (const workflows::InvalidInput& e) {
      Trace("suggestion " + std::to_string(id) + ": " + e.what());
    }
  }
}

// ---- the stepper ----------------------------------------------------------------------------

void Simulator::Run_::Maintenance() {
  // The leader's duties, on the simulated clock.
  workers::PromoteDue(db(), 1'000, clock);
  const auto r = workers::RescueExpired(db(), registry, 1'000, clock);
  if (r.requeued || r.killed)
    Trace("leader rescued " + std::to_string(r.requeued) + " jobs, " + std::to_string(r.killed) +
          " died on their last attempt");
}

std::optional<TimePoint> Simulator::Run_::NextWake() {
  std::optional<TimePoint> next = workers::NextDue(db());
  auto lease = db().ExecSql("SELECT min(lease_expires_at) FROM jobs WHERE state = 'running'", {})
                   .At(0, 0)
                   .OptTime();
  if (lease) *lease += Millis(1);  // rescued once it has expired
  for (const auto& t : {lease, events.empty() ? std::nullopt : std::optional(events.top().at)})
    if (t && (!next || *t < *next)) next = t;
  return next;
}

void Simulator::Run_::RunJob(const workers::Job& job) {
  ++result.jobs_run;
  fetched.insert(job.id);
  const int crashes = crash.crashes;
  const std::string head = "job " + std::to_string(job.id) + " " + job.kind + " #" +
                           std::to_string(job.attempt) + " " + job.args + " on " + Owner() + ": ";
  auto abandon = [&](const std::string& where) {
    crash.armed = false;
    abandoned.insert(job.id);
    Trace(head + "CRASH " + where + "; the job is left to its lease");
    ++worker;
  };
  crash.armed = true;
  const workers::HandlerRun run = workers::RunHandler(registry, job, db(), clock, Owner());
  if (crash.crashes != crashes) return abandon(crash.last);
  if (run.lease_lost) {
    crash.armed = false;
    return Fail("single_owner",
                head + "lost its lease with no other worker alive: " + run.lost_reason);
  }
  const auto& out = run.outcome;
  try {
    if (out.type == workers::Outcome::Type::kComplete) {
      if (run.completed_in_tx) {
        ++completed[job.id];
        completed_this_step.insert(job.id);
        crash.armed = false;
        return Trace(head + "completed");
      }
      crash.Maybe(rng, "before the ack of job " + std::to_string(job.id));
      crash.armed = false;
      if (workers::Complete(db(), {{job.id, job.attempt}}, Owner()) == 1) {
        ++completed[job.id];
        completed_this_step.insert(job.id);
        return Trace(head + "completed (acked)");
      }
      return Trace(head + "ack found the job gone");
    }
    const auto rec = workers::RecordOutcome(db(), registry, job, Owner(), out, rng, clock);
    crash.armed = false;
    if (rec.resolution == workers::Resolution::kLost) return Trace(head + "outcome lost");
    if (rec.kind == workers::Recorded::Kind::kDead) {
      dead.insert(job.id);
      return Trace(head + "DEAD: " + out.reason);
    }
    Trace(head + (rec.kind == workers::Recorded::Kind::kRetried ? "retry in " : "deferred ") +
          std::to_string(rec.delay.count()) + " ms: " + out.reason);
  } catch (const SimulatedCrash&) {
    abandon(crash.last);
  }
}

void Simulator::Run_::Drive() {
  const TimePoint give_up = Start() + Millis(3LL * 24 * 3'600'000);
  bool clock_moved = true;
  jobs_present.clear();
  for (;;) {
    if (failure) return;
    if (++result.steps > sim.options_.max_steps)
      return Fail("comes_to_rest",
                  "still busy after " + std::to_string(sim.options_.max_steps) + " steps");
    if (clock.Now() > give_up)
      return Fail("comes_to_rest", "still busy after three simulated days");
    completed_this_step.clear();
    if (clock_moved) {
      Maintenance();
      clock_moved = false;
    }
    if (!events.empty() && events.top().at <= clock.Now()) {
      Event e = events.top();
      events.pop();
      const TimePoint before = clock.Now();
      e.fn();
      clock_moved = clock.Now() != before;
      CheckStep();
      continue;
    }
    auto f = workers::Fetch(db(), "default", 1, Owner(), kLease, clock);
    if (!f.jobs.empty()) {
      RunJob(f.jobs.front());
      CheckStep();
      continue;
    }
    const auto next = NextWake();
    if (!next) return;  // drained
    if (*next > clock.Now()) clock.Set(*next);
    clock_moved = true;
  }
}

// ---- the invariants -----------------------------------------------------------------------

void Simulator::Run_::CheckStep() {
  for (const auto& row : ReadTransitions(db(), walk.last_id()))
    if (auto v = walk.Feed(row); !v.empty()) return Fail("history_is_a_walk", v);
  CheckCalls();
  CheckCooldowns();
  CheckJobs();
}

void Simulator::Run_::CheckCalls() {
  const auto& calls = facility.calls();
  for (; calls_checked < calls.size(); ++calls_checked) {
    const CallRecord& c = calls[calls_checked];
    ++result.calls;
    const bool physical = IsPhysicalKind(c.kind);
    auto a = db().ExecSql(
        "SELECT triggered_by, coalesce(params->>'stop_override', '') AS stop_override FROM "
        "actions WHERE id = $1",
        {c.action_id});
    if (a.Empty())
      return Fail("calls_name_actions", "call to an unknown action " + std::to_string(c.action_id));
    const std::string by = a.At(0, "triggered_by").Str();
    const bool autonomous = by == "router" || by == "chain";
    const std::string what = c.kind + " of action " + std::to_string(c.action_id) + " on " +
                             c.device + " (" + c.answer + ")";
    Trace("call " + std::to_string(c.seq) + ": " + what + (c.effect ? ", took effect" : ""));
    // Once per action, unless calling twice is harmless.
    workflows::ActionView view;
    view.kind = c.kind;
    if (c.maybe_effect && ++maybe_effective_calls[c.action_id] > 1 && !facility.Idempotent(view))
      return Fail("no_double_call", what + ": called again after a call that may have acted");
    if (c.effect && ++effects[c.action_id] > 1 && !facility.Idempotent(view))
      return Fail("no_double_call", what + ": acted twice");
    // Nothing physical under an engaged stop that covers it, unless an admin overrode it.
    if (physical && a.At(0, "stop_override").Str().empty()) {
      const std::string category(CategoryOfKind(c.kind));
      for (const auto& [scope, engaged] : stops)
        if (engaged && (scope == "global" || scope == "location:" + c.location ||
                        scope == "category:" + category))
          return Fail("emergency_stop_holds", what + " while the stop " + scope + " is engaged");
    }
    // One unlock per booking for the doors ClubOS opens by itself.
    if (c.kind == "unlock_door" && c.effect && c.booking_id && autonomous &&
        ++autonomous_unlocks[*c.booking_id] > max_unlocks)
      return Fail("one_unlock_per_booking", what + ": booking " + *c.booking_id + " opened " +
                                                std::to_string(autonomous_unlocks[*c.booking_id]) +
                                                " times");
  }
}

void Simulator::Run_::CheckCooldowns() {
  auto r = db().ExecSql(
      "SELECT id, kind, target->>'device_id' AS device, triggered_by, "
      "extract(epoch FROM started_at)::float8 AS started FROM actions "
      "WHERE started_at IS NOT NULL AND kind IN ('reset_trackman', 'reboot_pc', 'unlock_door') "
      "ORDER BY started_at, id",
      {});
  std::map<std::string, std::pair<int64_t, double>> last;  // device -> latest start so far
  for (std::size_t i = 0; i < r.Size(); ++i) {
    const std::string device = r.At(i, "device").OptStr().value_or("");
    const std::string kind = r.At(i, "kind").Str();
    const std::string by = r.At(i, "triggered_by").Str();
    const double started = r.At(i, "started").Double();
    const int cooldown = kind == "unlock_door" ? cooldown_access : cooldown_tech;
    auto it = last.find(device);
    if (it != last.end() && (by == "router" || by == "chain") && cooldown > 0 &&
        started - it->second.second < cooldown - 1.0)
      return Fail("cooldown", kind + " action " + r.At(i, "id").Str() + " started on " + device +
                                  " " + std::to_string(started - it->second.second) +
                                  " s after action " + std::to_string(it->second.first) +
                                  " (cooldown " + std::to_string(cooldown) + " s)");
    last[device] = {r.At(i, "id").Int64(), started};
  }
}

void Simulator::Run_::CheckJobs() {
  std::set<int64_t> now_present;
  auto r = db().ExecSql("SELECT id FROM jobs", {});
  for (std::size_t i = 0; i < r.Size(); ++i) now_present.insert(r.At(i, 0).Int64());
  for (const auto& [id, n] : completed)
    if (n > 1)
      return Fail("job_completes_once",
                  "job " + std::to_string(id) + " completed " + std::to_string(n) + " times");
  for (int64_t id : jobs_present)
    if (!now_present.count(id) && !completed_this_step.count(id))
      return Fail("no_job_lost", "job " + std::to_string(id) + " left the queue uncompleted");
  jobs_present = std::move(now_present);
}

void Simulator::Run_::CheckAtRest() {
  if (failure) return;
  auto jobs =
      db().ExecSql("SELECT id, kind, state FROM jobs WHERE state <> 'dead' ORDER BY id", {});
  if (!jobs.Empty())
    return Fail("comes_to_rest", "job " + jobs.At(0, "id").Str() + " (" + jobs.At(0, "kind").Str() +
                                     ") is still " + jobs.At(0, "state").Str());
  auto dead_rows = db().ExecSql("SELECT id FROM jobs WHERE state = 'dead'", {});
  std::set<int64_t> dead_now;
  for (std::size_t i = 0; i < dead_rows.Size(); ++i) dead_now.insert(dead_rows.At(i, 0).Int64());
  for (int64_t id : fetched)
    if (completed[id] != 1 && !dead_now.count(id))
      return Fail("no_job_lost", "job " + std::to_string(id) +
                                     " was run but neither completed "
                                     "nor dead");
  for (const char* entity : {"thread", "action"}) {
    const bool thread = std::string(entity) == "thread";
    auto rows = db().ExecSql(
        std::string("SELECT id, state FROM ") + (thread ? "threads" : "actions") + " ORDER BY id",
        {});
    for (std::size_t i = 0; i < rows.Size(); ++i) {
      const int64_t id = rows.At(i, "id").Int64();
      const std::string state = rows.At(i, "state").Str();
      const bool rests = thread ? In(state, std::begin(kRestingThreads), std::end(kRestingThreads))
                                : In(state, std::begin(kRestingActions), std::end(kRestingActions));
      if (!rests)
        return Fail("comes_to_rest", std::string(entity) + " " + std::to_string(id) + " is still " +
                                         state + " after the run drained");
      const auto walked = walk.states().find({entity, id});
      if (walked == walk.states().end() || walked->second != state)
        return Fail("history_is_a_walk",
                    std::string(entity) + " " + std::to_string(id) + " is " + state +
                        " but its history ends at " +
                        (walked == walk.states().end() ? "(nothing)" : walked->second));
    }
  }
}

// ---- the simulator ----------------------------------------------------------------------------

Simulator::Simulator(const std::string& database_url, Config config, SimOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      knowledge_(workflows::KnowledgeSnapshot::FromFolder(options_.knowledge_dir, config_)) {
  store::ConnectionOptions copt;
  copt.application_name = "clubos-simulate";
  copt.max_tx_attempts = 1;  // one process, one connection: a conflict would be a bug
  copt.before_commit = [this](const std::string& what) {
    if (current_) current_->crash.Maybe(current_->rng, "before the commit of " + what);
  };
  db_ = store::Connect(database_url, copt);
  // A throwaway database: commits need not wait for the disk (the outcome is the same).
  db_->ExecRawOne("SET synchronous_commit = off");
  if (!options_.messages_path.empty()) {
    std::ifstream in(options_.messages_path);
    if (!in) throw std::runtime_error("cannot read " + options_.messages_path);
    const json j = json::parse(in);
    for (const auto& c : j.at("cases")) texts_.push_back(c.at("text").get<std::string>());
  }
  // Every table but the migrations' own and the knowledge store's (append-only; a run routes
  // with the pinned knowledge_dir, not the store), emptied with its sequences: ids restart at 1,
  // so a seed names the same rows every time it runs.
  auto r = db_->ExecSql(
      "SELECT string_agg(quote_ident(tablename), ', ' ORDER BY tablename) FROM pg_tables "
      "WHERE schemaname = 'public' AND tablename <> 'schema_migrations' AND tablename NOT LIKE "
      "'knowledge\\_%'",
      {});
  truncate_sql_ = "ALTER TABLE transitions DISABLE TRIGGER USER; TRUNCATE " + r.At(0, 0).Str() +
                  " RESTART IDENTITY; ALTER TABLE transitions ENABLE TRIGGER USER";
}

Simulator::~Simulator() = default;

void Simulator::Reset() {
  db_->ExecRawOne(truncate_sql_);
}

SimResult Simulator::Run(uint64_t seed) {
  Reset();
  Run_ run(*this, seed);
  run.flow.Register(run.registry);
  current_ = &run;
  try {
    run.Plan();
    run.Drive();
    run.CheckAtRest();
  } catch (const std::exception& e) {
    run.Fail("no_unexpected_error", e.what());
  }
  current_ = nullptr;
  run.result.crashes = run.crash.crashes;
  if (run.failure) {
    run.result.ok = false;
    run.result.invariant = run.failure->invariant;
    run.result.detail = run.failure->detail;
  }
  return std::move(run.result);
}

}  // namespace clubos::simulation
