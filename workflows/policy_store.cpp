#include "workflows/policy_store.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "core/time_zone.h"
#include "store/db.h"
#include "workflows/engine.h"

namespace clubos::workflows {

// A policy version's state when a human turned it down (schema/migrations/0005_policy.sql).
inline constexpr std::string_view kPolicyRejected = "rejected";

using nlohmann::json;

namespace {

std::string VersionConflictMessage(int64_t proposal, std::optional<int64_t> based_on,
                                   int64_t active) {
  return "policy version " + std::to_string(proposal) + " is based on version " +
         (based_on ? std::to_string(*based_on) : std::string("(none)")) +
         ", but the active version is now " + std::to_string(active) +
         ": approving it would also undo what changed since. The diff shows what it would change "
         "against version " +
         std::to_string(active) + "; propose it again on top of that version, or reject it";
}

}  // namespace

VersionConflict::VersionConflict(int64_t proposal, std::optional<int64_t> based_on, int64_t active,
                                 std::string diff_json)
    : std::runtime_error(VersionConflictMessage(proposal, based_on, active)),
      proposal_(proposal),
      active_(active),
      diff_json_(std::move(diff_json)) {}

PolicyStore::PolicyStore(const Config& config, const Clock& clock)
    : config_(config), clock_(clock) {
  Profile::FromJson(config_.policy_json).RequireKnownCategories(ProfileCategories(config_.router));
}

void PolicyStore::Bootstrap(store::Connection& db) const {
  db.Transact("policy_bootstrap", [&](store::Tx& tx) { BootstrapIn(tx); });
}

void PolicyStore::BootstrapIn(store::Tx& tx) const {
  // Parsed first: a bad profile in the config file is refused here, not stored.
  const std::string profile = Profile::FromJson(config_.policy_json).ToJson();
  // Under the lock of every change of the active version: first routings at once used to insert
  // concurrently, and each loser's conflict still took a number from the sequence, so the first
  // version was not always version 1.
  tx.Exec("policy_active_lock", {});
  tx.Exec("policy_bootstrap", {profile});
}

Profile PolicyStore::Active(store::Tx& tx) const {
  auto r = tx.Exec("policy_active", {});
  if (r.Empty()) {
    BootstrapIn(tx);
    r = tx.Exec("policy_active", {});
  }
  Profile p = Profile::FromJson(r.At(0, "profile").Str());
  p.version = r.At(0, "id").Int64();
  return p;
}

Profile PolicyStore::LockActive(store::Tx& tx) const {
  // The lock comes first and the read after it, in a statement of its own: under READ COMMITTED
  // that read sees what a change that held the lock before committed. (Read first, and two
  // approvals at once both replaced the same version: 500, duplicate key in
  // policy_versions_one_active.)
  tx.Exec("policy_active_lock", {});
  return Active(tx);
}

int64_t PolicyStore::Propose(store::Connection& db, const std::string& profile_json,
                             const std::string& note, const std::string& actor) const {
  // InvalidProfile: nothing stored.
  const Profile proposed = Profile::FromProposal(profile_json, ProfileCategories(config_.router));
  if (note.size() > 1000) throw InvalidProfile("note: at most 1000 bytes");
  int64_t id = 0;
  db.Transact("policy_propose", [&](store::Tx& tx) {
    const Profile current = Active(tx);
    id = tx.Exec("policy_propose",
                 {proposed.ToJson(), current.version, Profile::Diff(current, proposed),
                  note.empty() ? std::nullopt : std::optional(note), actor})
             .At(0, "id")
             .Int64();
  });
  return id;
}

void PolicyStore::Approve(store::Connection& db, int64_t version, const std::string& actor) const {
  db.Transact("policy_approve", [&](store::Tx& tx) {
    // The active version is locked, retired and replaced in this transaction: every decision
    // sees one version or the other, never none.
    const Profile current = LockActive(tx);
    auto r = tx.Exec("policy_get_lock", {version});
    if (r.Empty()) throw NotFound("policy version " + std::to_string(version) + " does not exist");
    const std::string state = r.At(0, "state").Str();
    if (state != "proposed") throw IllegalTransition("policy_version", version, state, "approve");
    if (r.At(0, "proposed_by").Str() == actor)
      throw Forbidden("a proposal is approved by an admin other than its proposer");
    const Profile next = Profile::FromJson(r.At(0, "profile").Str());
    const std::string diff = Profile::Diff(current, next);
    // A proposal replaces the whole profile: approved on top of a version it was not based on,
    // it would revert whatever that version changed.
    const auto based_on = r.At(0, "based_on").OptInt64();
    if (based_on != current.version)
      throw VersionConflict(version, based_on, current.version, diff);
    tx.Exec("policy_retire", {current.version});
    tx.Exec("policy_activate", {version, actor, diff});
    tx.Exec("control_event", {"policy_version:" + std::to_string(version), true,
                              "approved; was version " + std::to_string(current.version), actor});
  });
}

void PolicyStore::Reject(store::Connection& db, int64_t version, const std::string& actor) const {
  db.Transact("policy_reject", [&](store::Tx& tx) {
    auto r = tx.Exec("policy_get_lock", {version});
    if (r.Empty()) throw NotFound("policy version " + std::to_string(version) + " does not exist");
    const std::string state = r.At(0, "state").Str();
    if (state != "proposed") throw IllegalTransition("policy_version", version, state, "reject");
    tx.Exec("policy_mark_rejected", {version});
    tx.Exec("control_event",
            {"policy_version:" + std::to_string(version), false, kPolicyRejected, actor});
  });
}

int64_t PolicyStore::Restore(store::Connection& db, int64_t version, const std::string& actor,
                             const std::string& note) const {
  int64_t id = 0;
  db.Transact("policy_restore", [&](store::Tx& tx) {
    const Profile current = LockActive(tx);
    auto r = tx.Exec("policy_get_lock", {version});
    if (r.Empty()) throw NotFound("policy version " + std::to_string(version) + " does not exist");
    const std::string state = r.At(0, "state").Str();
    if (state != "retired" && state != "active")
      throw IllegalTransition("policy_version", version, state, "restore");
    const Profile old = Profile::FromJson(r.At(0, "profile").Str());
    tx.Exec("policy_retire", {current.version});
    id = tx.Exec("policy_restore",
                 {old.ToJson(), version, Profile::Diff(current, old),
                  note.empty() ? "restore of version " + std::to_string(version) : note, actor})
             .At(0, "id")
             .Int64();
    tx.Exec("control_event", {"policy_version:" + std::to_string(id), true,
                              "restored version " + std::to_string(version), actor});
  });
  return id;
}

namespace {

Intent IntentFromJson(const json& j) {
  Intent i;
  if (!j.is_object()) return i;
  i.category = j.value("category", std::string());
  i.action = j.value("action", std::string());
  i.confidence = j.value("confidence", 0.0);
  i.router = j.value("router", std::string("patterns"));
  i.must_escalate = j.value("must_escalate", std::string());
  const json entities = j.value("entities", json::object());
  if (entities.contains("bay") && entities["bay"].is_number_integer())
    i.bay = entities["bay"].get<int>();
  i.faq_topic = entities.value("faq_topic", std::string());
  for (const auto& f : j.value("flags", json::array()))
    if (f.is_string()) i.flags.push_back(f.get<std::string>());
  i.reply = j.value("reply", std::string());
  return i;
}

}  // namespace

Intent IntentFromJson(const std::string& intent_json) {
  return IntentFromJson(json::parse(intent_json, nullptr, false));
}

namespace {

std::string Summary(const std::string& outcome, const std::string& reason) {
  return reason.empty() ? outcome : outcome + "/" + reason;
}

}  // namespace

ReplayReport PolicyStore::Replay(store::Connection& db, int64_t version, TimePoint since) const {
  auto v = db.ExecOne("policy_get", {version});
  if (v.Empty()) throw NotFound("policy version " + std::to_string(version) + " does not exist");
  Profile profile = Profile::FromJson(v.At(0, "profile").Str());
  profile.version = version;
  ReplayReport report;
  report.profile_version = version;
  // The answers and procedures on file now: a profile is replayed, not the knowledge.
  const KnowledgeSnapshot knowledge(ActiveKnowledge(db), config_);
  auto rows = db.ExecOne("decisions_since", {since});
  for (std::size_t i = 0; i < rows.Size(); ++i) {
    const json decision = json::parse(rows.At(i, "decision").Str(), nullptr, false);
    if (!decision.is_object() || !decision.contains("facts")) continue;  // before facts were kept
    const Location* location = config_.FindLocation(rows.At(i, "location").Str());
    if (!location) continue;
    const Intent intent = IntentFromJson(json::parse(rows.At(i, "intent").Str(), nullptr, false));
    const Facts facts = Facts::FromJson(decision["facts"].dump());
    const Decision d = Decide({intent, *location, config_, profile, facts, knowledge});
    ++report.replayed;
    const std::string before = Summary(decision.value("outcome", std::string()),
                                       decision.value("escalation_reason", std::string()));
    const std::string after = Summary(d.outcome, d.escalation_reason);
    if (before != after)
      report.changed.push_back(
          {rows.At(i, "id").Int64(), rows.At(i, "decided_at").Time(), before, after, d.reasons});
  }
  return report;
}

bool PolicyStore::UpsertBooking(store::Connection& db, const BookingInput& b) const {
  const Location* location = config_.FindLocation(b.location);
  if (b.id.empty() || b.id.size() > 100) throw InvalidInput("id must be 1..100 bytes");
  if (!location) throw InvalidInput("location '" + b.location + "' is not in the facility");
  // Range first: narrowed, bay 4294967298 was bay 2.
  if (b.bay && (*b.bay < 0 || *b.bay > std::numeric_limits<int>::max() ||
                !location->FindBay(static_cast<int>(*b.bay))))
    throw InvalidInput("bay " + std::to_string(*b.bay) + " is not a bay of " + location->name);
  const std::string& p = b.customer_phone;
  if (!IsE164(p)) throw InvalidInput("customer_phone must be an E.164 phone number");
  if (b.end <= b.start) throw InvalidInput("end must be after start");
  if (b.end - b.start > std::chrono::hours(24))
    throw InvalidInput("a booking is at most 24 hours long");
  return db
      .ExecOne("booking_upsert", {b.id, b.location, b.bay, p, b.start, b.end, b.customer_flagged})
      .At(0, "created")
      .Bool();
}

std::vector<EmergencyStop> PolicyStore::Stops(store::Tx& tx) const {
  std::vector<EmergencyStop> out;
  auto r = tx.Exec("stops_engaged", {});
  for (std::size_t i = 0; i < r.Size(); ++i)
    out.push_back({r.At(i, "scope").Str(), r.At(i, "reason").Str(), r.At(i, "changed_by").Str(),
                   r.At(i, "changed_at").Time()});
  return out;
}

std::string PolicyStore::StopCovering(const std::vector<EmergencyStop>& stops,
                                      const std::string& location, const std::string& category) {
  for (const auto& s : stops)
    if (s.scope == "global" || s.scope == "location:" + location ||
        (!category.empty() && s.scope == "category:" + category))
      return s.scope + ": " + s.reason;
  return "";
}

PolicyStore::Inputs PolicyStore::Gather(store::Tx& tx, const Location& location,
                                        const std::string& category,
                                        const std::optional<ActionPlan>& plan,
                                        const std::string& customer_phone, int64_t thread_id,
                                        bool rapid) const {
  auto snapshot = tx.Exec("policy_snapshot", {});
  if (snapshot.Empty()) {  // a new database: the config's profile becomes version 1
    BootstrapIn(tx);
    snapshot = tx.Exec("policy_snapshot", {});
  }
  Inputs in;
  in.profile = Profile::FromJson(snapshot.At(0, "profile").Str());
  in.profile.version = snapshot.At(0, "id").Int64();
  std::vector<EmergencyStop> stops;
  for (const auto& s : json::parse(snapshot.At(0, "stops").Str()))
    stops.push_back({s.at("scope").get<std::string>(), s.at("reason").get<std::string>(), "", {}});
  const json toggles = json::parse(snapshot.At(0, "toggles").Str());

  Facts& f = in.facts;
  f.now = clock_.Now();
  const auto zone = TimeZone::Load(location.time_zone);
  f.local_minute = zone->LocalMinuteOfDay(f.now);
  f.rapid_messages = rapid;
  f.emergency_stop = StopCovering(stops, location.id, category);
  f.auto_send = toggles.value("auto_send", true);
  f.auto_execute = toggles.value("auto_execute", true);
  auto booking = tx.Exec("booking_for_customer", {location.id, customer_phone, clock_.DbNow()});
  if (!booking.Empty()) {
    BookingFact b;
    b.id = booking.At(0, "id").Str();
    if (!booking.At(0, "bay").IsNull()) b.bay = booking.At(0, "bay").Int();
    b.start = booking.At(0, "start_at").Time();
    b.end = booking.At(0, "end_at").Time();
    b.customer_flagged = booking.At(0, "customer_flagged").Bool();
    f.booking = b;
  }
  // The location's date: a budget day ends at the location's midnight.
  const std::string today = zone->LocalDate(f.now);
  auto tokens = tx.Exec("tokens_used", {location.id, today});
  f.tokens_today = tokens.At(0, "today").Int64();
  f.tokens_month = tokens.At(0, "month").Int64();
  if (thread_id)
    f.automated_replies_on_thread = tx.Exec("thread_auto_replies", {thread_id}).At(0, "n").Int();
  if (plan && !plan->Asset().empty()) {
    tx.Exec("asset_lock", {plan->Asset()});
    auto recent = tx.Exec("asset_recent", {plan->Asset(), clock_.DbNow()});
    f.actions_on_asset_last_hour = recent.At(0, "last_hour").Int();
    f.seconds_since_last_on_asset = recent.At(0, "since_last").OptInt64();
    if (plan->kind == "unlock_door" && f.booking) {
      auto unlocks = tx.Exec("booking_unlocks", {f.booking->id});
      f.unlocks_for_booking = unlocks.At(0, "n").Int();
      f.previous_unlock_failed = unlocks.At(0, "last_failed").Bool();
    }
  }
  return in;
}

}  // namespace clubos::workflows
