// The customer part of `clubos demo`: a morning at a two-location facility, played over the real
// wire. `clubos sim` acts as the customers (signed OpenPhone webhooks into `clubos serve`) and as
// the facility's vendors; operators use the HTTP API with their tokens. Every step waits for the
// outcome in the database and says what happened; the end prints a summary and where to look.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "app/commands.h"
#include "core/time_format.h"
#include "integrations/http.h"
#include "store/db.h"

namespace clubos::app {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;

class Morning {
 public:
  Morning(DemoEndpoints ends, std::string url)
      : e_(std::move(ends)), db_(store::Connect(url)), t0_(Steady::now()) {}

  // A customer texts the facility: the simulator signs and delivers it as OpenPhone would.
  int64_t Text(const std::string& from, const std::string& line, const std::string& body) {
    const auto r = Post(e_.sim + "/_sim/customer", {{"from", from}, {"to", line}, {"body", body}});
    const json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || j.value("status", 0) != 202)
      throw std::runtime_error("the webhook was not accepted: " + r.body);
    Say("  " + Mask(from) + " texts: \"" + body + "\"");
    return j["response"].value("thread_id", int64_t{0});
  }
  // Waits until the thread rests in one of `states`; returns the state (and prints it).
  std::string Await(int64_t thread, std::initializer_list<const char*> states,
                    Millis timeout = Millis(30'000)) {
    const auto until = Steady::now() + timeout;
    for (;;) {
      auto r = db_->ExecSql(
          "SELECT state, coalesce(escalation_reason, '') AS reason FROM threads WHERE id = $1",
          {thread});
      const std::string s = r.Empty() ? "" : r.At(0, "state").Str();
      for (const char* want : states)
        if (s == want) {
          const std::string reason = r.At(0, "reason").Str();
          Say("    -> thread " + std::to_string(thread) + " " + s +
              (s == "escalated" ? " (" + reason + ")" : ""));
          return s;
        }
      if (Steady::now() > until)
        throw std::runtime_error("thread " + std::to_string(thread) + " stuck in " + s);
      std::this_thread::sleep_for(Millis(100));
    }
  }
  void Book(const std::string& id, const std::string& location, int bay, const std::string& phone,
            int from_min, int to_min) {
    const auto now = SystemClock::Instance().Now();
    const auto r = Post(e_.api + "/v1/bookings",
                        {{"id", id},
                         {"location", location},
                         {"bay", bay},
                         {"customer_phone", phone},
                         {"start", FormatTimestamp(now + std::chrono::minutes(from_min))},
                         {"end", FormatTimestamp(now + std::chrono::minutes(to_min))}},
                        e_.service_token);
    if (r.status / 100 != 2) throw std::runtime_error("booking refused: " + r.body);
  }
  integrations::HttpResponse Post(const std::string& url, const json& body,
                                  const std::string& token = "") {
    std::map<std::string, std::string> h = {{"Content-Type", "application/json"}};
    if (!token.empty()) h["Authorization"] = "Bearer " + token;
    auto r = integrations::Send({.method = "POST", .url = url, .headers = h, .body = body.dump()});
    if (r.transport != integrations::HttpResponse::Transport::kOk)
      throw std::runtime_error("no answer from " + url + ": " + r.error);
    return r;
  }
  integrations::HttpResponse Get(const std::string& url, const std::string& token) {
    auto r = integrations::Send({.url = url, .headers = {{"Authorization", "Bearer " + token}}});
    if (r.transport != integrations::HttpResponse::Transport::kOk)
      throw std::runtime_error("no answer from " + url + ": " + r.error);
    return r;
  }
  // The text of the thread's automated answer, and its action.
  std::pair<int64_t, std::string> Answer(int64_t thread) {
    auto r = db_->ExecSql(
        "SELECT id, params ->> 'text' AS text, reason FROM actions WHERE thread_id = $1 AND "
        "kind = 'send_message' AND params ->> 'role' = 'primary' ORDER BY id DESC LIMIT 1",
        {thread});
    if (r.Empty()) throw std::runtime_error("thread " + std::to_string(thread) + " has no answer");
    Say("    answered: \"" + r.At(0, "text").Str() + "\" (" + r.At(0, "reason").Str() + ")");
    return {r.At(0, "id").Int64(), r.At(0, "text").Str()};
  }
  // Polls `sql` (one value, or no row) until it gives a value; returns it.
  std::string AwaitValue(const std::string& what, const std::string& sql,
                         Millis timeout = Millis(30'000)) {
    const auto until = Steady::now() + timeout;
    for (;;) {
      auto r = db_->ExecRawOne(sql);
      if (!r.Empty() && !r.At(0, 0).IsNull()) return r.At(0, 0).Str();
      if (Steady::now() > until) throw std::runtime_error("waited in vain for " + what);
      std::this_thread::sleep_for(Millis(100));
    }
  }
  void Fault(const json& f) {
    if (Post(e_.sim + "/_sim/faults", f).status != 201) throw std::runtime_error("fault refused");
  }
  void ClearFaults() {
    const auto r = integrations::Send({.method = "DELETE", .url = e_.sim + "/_sim/faults"});
    if (r.status != 200) throw std::runtime_error("the faults were not cleared: " + r.body);
  }
  void Say(const std::string& line) {
    const double s = std::chrono::duration<double>(Steady::now() - t0_).count();
    std::printf("[%5.1fs] %s\n", s, line.c_str());
    std::fflush(stdout);
  }
  static std::string Mask(const std::string& phone) {
    return phone.size() > 4 ? "***" + phone.substr(phone.size() - 4) : phone;
  }
  // What OperatorGPT did for the thread's newest routing: the model's outcome, a cache hit, or
  // nothing (the patterns were sure, or the text was escalated without a call).
  std::string ModelSaid(int64_t thread) {
    auto r = db_->ExecSql(
        "SELECT outcome, model, tokens_in + tokens_out AS tokens, coalesce(latency_ms, 0) AS ms "
        "FROM llm_calls WHERE thread_id = $1 ORDER BY id DESC LIMIT 1",
        {thread});
    if (r.Empty()) return "no model call";
    const std::string outcome = r.At(0, "outcome").Str();
    if (outcome == "cache_hit") return "answered from the cache, no model call";
    return r.At(0, "model").Str() + " " + outcome + ", " + r.At(0, "tokens").Str() + " tokens, " +
           r.At(0, "ms").Str() + " ms";
  }
  void Explain(int64_t thread) { Say("    (" + ModelSaid(thread) + ")"); }
  store::Connection& db() { return *db_; }
  const DemoEndpoints& ends() const { return e_; }

 private:
  DemoEndpoints e_;
  std::unique_ptr<store::Connection> db_;
  Steady::time_point t0_;
};

void PrintTable(store::Connection& db, const std::string& title, const std::string& sql) {
  std::printf("\n%s\n", title.c_str());
  auto r = db.ExecRawOne(sql);
  for (std::size_t i = 0; i < r.Size(); ++i)
    std::printf("  %-28s %s\n", r.At(i, 0).Str().c_str(), r.At(i, 1).Str().c_str());
}

}  // namespace

int DemoFlow(const std::string& url, const DemoEndpoints& ends) {
  Morning m(ends, url);
  auto& db = m.db();
  // New customers every run (the demo database is kept between runs).
  const int nonce = 100 + static_cast<int>(std::random_device{}() % 800);
  auto phone = [&](int i) { return "+1555" + std::to_string(nonce) + std::to_string(1000 + i); };
  const std::string bedford = "+15555550199", dartmouth = "+15555550299";
  const std::string run = std::to_string(nonce);

  std::printf("\n== A morning at Clubhouse 24/7 Golf (Bedford and Dartmouth), over the wire ==\n");
  m.Say("bookings arrive from the booking system (POST /v1/bookings)");
  m.Book("demo-" + run + "-a", "bedford", 3, phone(1), -10, 50);
  m.Book("demo-" + run + "-b", "bedford", 2, phone(2), 5, 65);     // starts in 5 min
  m.Book("demo-" + run + "-c", "bedford", 4, phone(3), 180, 240);  // this afternoon
  m.Book("demo-" + run + "-d", "bedford", 5, phone(4), -20, 40);
  m.Book("demo-" + run + "-h", "dartmouth", 2, phone(8), -5, 55);
  m.Book("demo-" + run + "-j", "dartmouth", 3, phone(10), -15, 45);

  m.Say("1. a frozen TrackMan, confirmed by the customer and fixed");
  const int64_t frozen = m.Text(phone(1), bedford, "the trackman in bay 3 is frozen");
  m.Await(frozen, {"awaiting_confirmation"});
  m.Text(phone(1), bedford, "YES");
  m.Await(frozen, {"verified"});

  m.Say("2. a door code that fails 5 minutes before the booking starts");
  const int64_t door = m.Text(phone(2), bedford, "my door code isn't working, I'm outside");
  m.Await(door, {"awaiting_confirmation"});
  m.Text(phone(2), bedford, "yes please");
  m.Await(door, {"verified"});

  m.Say("3. the same trouble, but the booking is this afternoon");
  m.Await(m.Text(phone(3), bedford, "door code doesn't work, can't get in"), {"escalated"});

  m.Say("4. a gift card question, answered from the FAQ");
  m.Await(m.Text(phone(5), dartmouth, "hi! do you sell gift cards?"), {"verified"});

  m.Say("5. a reset whose PC never comes back");
  m.Fault({{"target", "ninjaone:105"}, {"mode", "stuck_offline"}, {"count", 1}});
  const int64_t stuck = m.Text(phone(4), bedford, "bay 5 simulator froze mid round");
  m.Await(stuck, {"awaiting_confirmation"});
  m.Text(phone(4), bedford, "y");
  m.Await(stuck, {"escalated"});

  m.Say("6. an angry customer: straight to a human, no automation");
  const int64_t angry =
      m.Text(phone(6), bedford, "this is ridiculous, third time the sim froze. I want a refund");
  m.Await(angry, {"escalated"});

  m.Say("7. a second reset of bay 3 inside its cooldown");
  m.Await(m.Text(phone(7), bedford, "trackman bay 3 not picking up my shots"), {"escalated"});

  m.Say("8. a Dartmouth bay whose PC runs the ClubOS agent (it pulls the command itself)");
  const int64_t agent = m.Text(phone(8), dartmouth, "the simulator in bay 2 is stuck");
  m.Await(agent, {"awaiting_confirmation"});
  m.Text(phone(8), dartmouth, "YES");
  m.Await(agent, {"verified"});

  m.Say("9. the emergency stop: engaged by an operator, then released");
  auto stop = m.Post(ends.api + "/v1/emergency-stop",
                     {{"engaged", true}, {"scope", "global"}, {"reason", "water leak in bay 4"}},
                     ends.operator_token);
  if (stop.status / 100 != 2) throw std::runtime_error("emergency stop refused: " + stop.body);
  m.Await(m.Text(phone(9), bedford, "trackman in bay 4 is frozen"), {"escalated"});
  m.Post(ends.api + "/v1/emergency-stop",
         {{"engaged", false}, {"scope", "global"}, {"reason", "plumber fixed it"}},
         ends.operator_token);
  m.Say("  released");

  m.Say("10. an operator claims the angry customer's thread and resolves it");
  auto claim = m.Post(ends.api + "/v1/escalations/" + std::to_string(angry) + "/claim",
                      json::object(), ends.operator_token);
  auto resolve =
      m.Post(ends.api + "/v1/escalations/" + std::to_string(angry) + "/resolve",
             {{"resolution", "refunded one hour"}, {"note", "called the customer, all good"}},
             ends.operator_token);
  if (claim.status / 100 != 2 || resolve.status / 100 != 2)
    throw std::runtime_error("claim/resolve refused: " + claim.body + " " + resolve.body);
  m.Await(angry, {"closed"});

  m.Say("11. OperatorGPT: a text the patterns are not sure of goes to the model, whose intent the");
  m.Say(
      "    same policy judges (the model only proposes; the reset still needs the customer's yes)");
  const int64_t unsure = m.Text(phone(10), dartmouth, "bay 3 wont load, just spinning");
  m.Await(unsure, {"awaiting_confirmation"});
  m.Explain(unsure);
  m.Text(phone(10), dartmouth, "YES");
  m.Await(unsure, {"verified"});

  m.Say("12. a question in words the patterns do not know, answered by the model; the same");
  m.Say("    question from another customer is answered from the cache");
  const int64_t asked = m.Text(phone(11), bedford, "what would a bay set me back tonight?");
  m.Await(asked, {"verified"});
  m.Explain(asked);
  const int64_t cached = m.Text(phone(12), bedford, "What would a bay set me back tonight");
  m.Await(cached, {"verified"});
  m.Explain(cached);

  m.Say("13. the model's endpoint fails: the unsure text goes to a human, operators get one");
  m.Say("    notice of degraded service, and the patterns carry on");
  m.Fault({{"target", "llm"}, {"mode", "http_500"}, {"count", 0}});
  const int64_t down = m.Text(phone(13), bedford, "bay 1 wont load at all");
  m.Await(down, {"escalated"});
  m.Explain(down);
  m.Await(m.Text(phone(14), bedford, "do you sell gift cards?"), {"verified"});
  m.ClearFaults();
  m.Say("  the endpoint is back; the next unsure text probes it and the outage closes");
  std::this_thread::sleep_for(Millis(2'100));  // the demo's outage_probe_ms is 2 s
  const int64_t back = m.Text(phone(15), bedford, "what would a bay set me back this weekend?");
  m.Await(back, {"verified"});
  m.Explain(back);
  auto notices = db.ExecRawOne(
      "SELECT params->>'text' FROM actions WHERE kind = 'notify_operator' AND "
      "params->>'role' = 'degraded' ORDER BY id");
  m.Say("  the operators' notices of the outage (Slack), one as it opened, one as it closed:");
  for (std::size_t i = 0; i < notices.Size(); ++i) {
    const std::string text = notices.At(i, 0).Str();
    m.Say("    \"" + (text.size() > 140 ? text.substr(0, 137) + "..." : text) + "\"");
  }

  m.Say("14. Dartmouth's token budget for the day runs out: unsure texts go to a human");
  m.Say("    (budget_exhausted) without a call, sure ones are still handled");
  db.ExecSql(
      "INSERT INTO token_usage (location, day, tokens) SELECT 'dartmouth', d::date, 200000 "
      "FROM generate_series(current_date - 1, current_date + 1, '1 day') d "
      "ON CONFLICT (location, day) DO UPDATE SET tokens = greatest(token_usage.tokens, 200000)",
      {});
  m.Say("  (the demo writes the day's usage up to the cap, as a busy day would)");
  const int64_t broke = m.Text(phone(16), dartmouth, "what would a bay set me back on sunday?");
  m.Await(broke, {"escalated"});
  m.Explain(broke);
  m.Await(m.Text(phone(17), dartmouth, "how much is a membership?"), {"verified"});

  m.Say("15. the knowledge loop: an operator marks an answer unhelpful with a correction, the");
  m.Say("    reviewer model proposes a new version of the SOP it followed, the dry run shows what");
  m.Say("    would change, another operator approves, and the next customer gets the new answer");
  const int64_t priced = m.Text(phone(18), bedford, "how much for an hour?");
  m.Await(priced, {"verified"});
  const auto [answer, before] = m.Answer(priced);
  const std::string correction =
      "Bays are $45/hour before 5pm and $60/hour after, up to 4 players per bay. Members get "
      "20% off every booking.";
  auto fb = m.Post(ends.api + "/v1/actions/" + std::to_string(answer) + "/feedback",
                   {{"helpful", false}, {"correction", correction}}, ends.operator_token);
  if (fb.status != 200) throw std::runtime_error("feedback refused: " + fb.body);
  m.Say("  ana marks it unhelpful: \"" + correction + "\" (case " +
        json::parse(fb.body)["case"]["id"].dump() + ")");
  auto asked_review =
      m.Post(ends.api + "/v1/knowledge/review", json::object(), ends.operator_token);
  if (asked_review.status != 202)
    throw std::runtime_error("the review was not queued: " + asked_review.body);
  const std::string proposal = m.AwaitValue(
      "the reviewer's proposal",
      "SELECT max(id)::text FROM knowledge_proposals WHERE document_id = 'faq.price' AND state = "
      "'open' AND author_kind = 'model' AND replay IS NOT NULL");
  const auto got = m.Get(ends.api + "/v1/knowledge/proposals/" + proposal, ends.operator_token);
  const json p = json::parse(got.body, nullptr, false);
  if (got.status != 200 || !p.is_object())
    throw std::runtime_error("the proposal could not be read: " + got.body);
  m.Say("  " + p["author"].get<std::string>() + " proposes a new version of faq.price (proposal " +
        proposal + "): " + p["reasoning"].get<std::string>());
  std::istringstream diff(p["diff"].get<std::string>());
  for (std::string line; std::getline(diff, line);)
    if (line.rfind("- ", 0) == 0 || line.rfind("+ ", 0) == 0) m.Say("      " + line);
  const json& replay = p["replay"];
  m.Say("  the dry run over past threads: " + replay["replayed"].dump() + " decisions replayed, " +
        replay["touched"].dump() + " cite faq.price, " + std::to_string(replay["changed"].size()) +
        " would answer differently");
  if (!replay["changed"].empty())
    m.Say("    e.g. thread " + replay["changed"][0]["thread_id"].dump() + ": \"" +
          replay["changed"][0]["text"].get<std::string>() + "\" would get the new text");
  auto approve = m.Post(ends.api + "/v1/knowledge/proposals/" + proposal + "/approve",
                        json::object(), ends.second_operator_token);
  if (approve.status != 200) throw std::runtime_error("approval refused: " + approve.body);
  m.Say("  ben approves it: faq.price v" + json::parse(approve.body)["approved_version"].dump() +
        " (the model could not have: only a person decides)");
  std::this_thread::sleep_for(Millis(300));  // the workers hear of the version by NOTIFY
  const int64_t next = m.Text(phone(19), bedford, "how much for an hour?");
  m.Await(next, {"verified"});
  const auto [next_answer, after] = m.Answer(next);
  if (after.find("Members get 20% off") == std::string::npos)
    throw std::runtime_error("the next customer did not get the approved answer: " + after);

  // ---- summary --------------------------------------------------------------------------------
  std::printf("\n== What happened (this run's threads) ==\n");
  const std::string mine = "customer_phone LIKE '+1555" + run + "%'";
  PrintTable(db, "threads by final state:",
             "SELECT state, count(*)::text FROM threads WHERE " + mine + " GROUP BY 1 ORDER BY 1");
  PrintTable(db, "actions by kind and result:",
             "SELECT a.kind || ' ' || coalesce(a.result, a.state), count(*)::text FROM actions a "
             "JOIN threads t ON t.id = a.thread_id WHERE t." +
                 mine + " GROUP BY 1 ORDER BY 1");
  PrintTable(db, "escalations by reason:",
             "SELECT escalation_reason, count(*)::text FROM threads WHERE " + mine +
                 " AND escalation_reason IS NOT NULL GROUP BY 1 ORDER BY 1");
  PrintTable(
      db, "message to verified:",
      "SELECT 'p50 / max (s)', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, "
      "2)::text || ' / ' || round(max(s)::numeric, 2)::text FROM (SELECT extract(epoch FROM "
      "v.at - m.received_at) AS s FROM threads t JOIN LATERAL (SELECT min(received_at) AS "
      "received_at FROM messages WHERE thread_id = t.id) m ON true JOIN transitions v ON "
      "v.entity = 'thread' AND v.entity_id = t.id AND v.event = 'verified' WHERE t." +
          mine + ") x");
  PrintTable(db, "OperatorGPT's calls by outcome:",
             "SELECT c.outcome, count(*)::text FROM llm_calls c JOIN threads t ON t.id = "
             "c.thread_id WHERE t." +
                 mine + " GROUP BY 1 ORDER BY 1");
  PrintTable(db, "OperatorGPT's tokens and cost by location:",
             "SELECT c.location, sum(c.tokens_in + c.tokens_out)::text || ' tokens, $' || "
             "round(sum(c.cost_usd), 4)::text FROM llm_calls c JOIN threads t ON t.id = "
             "c.thread_id WHERE t." +
                 mine + " GROUP BY 1 ORDER BY 1");
  auto calls = integrations::Send({.url = ends.sim + "/_sim/calls"});
  const json cj = json::parse(calls.body, nullptr, false);
  std::map<std::string, int> by_service;
  if (cj.is_object())
    for (const auto& c : cj["calls"]) ++by_service[c.value("service", "?")];
  std::printf("\nwhat the facility saw (every call clubos sim received):\n");
  for (const auto& [s, n] : by_service) std::printf("  %-28s %d calls\n", s.c_str(), n);
  std::printf(
      "\nlook further:\n"
      "  psql '%s' -c 'SELECT * FROM action_outcomes ORDER BY action_id DESC LIMIT 10'\n"
      "  curl -H 'Authorization: Bearer %s' %s/v1/threads/%lld\n"
      "  curl -H 'Authorization: Bearer %s' %s/v1/knowledge/documents/faq.price\n"
      "  curl %s/_sim/calls    (every call the facility received)\n"
      "  curl %s/metrics\n",
      url.c_str(), ends.operator_token.c_str(), ends.api.c_str(), static_cast<long long>(frozen),
      ends.operator_token.c_str(), ends.api.c_str(), ends.sim.c_str(), ends.api.c_str());
  return 0;
}

}  // namespace clubos::app
