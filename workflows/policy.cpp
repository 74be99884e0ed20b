#include "workflows/policy.h"

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "core/assert.h"
#include "core/time_format.h"

namespace clubos::workflows {

using nlohmann::json;

namespace {

std::string Fixed(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string Clock(int minute) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

std::optional<int> ParseClock(const std::string& s) {
  int h = 0, m = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 ||
      m > 59 || (h == 24 && m != 0))
    return std::nullopt;
  return h * 60 + m;
}

// The settings a profile knows, per place. Anything else is refused: a misspelt setting kept
// silently would leave the rule it meant at its default.
const std::set<std::string> kCategorySettings = {"autonomy",
                                                 "confidence_threshold",
                                                 "require_booking",
                                                 "time_restrictions",
                                                 "cooldown_seconds",
                                                 "max_fallbacks",
                                                 "confirmation",
                                                 "booking_window_minutes",
                                                 "deny_if_customer_flagged",
                                                 "max_attempts_per_booking",
                                                 "use_cheaper_model"};
const std::set<std::string> kLimitSettings = {
    "max_resets_per_bay_per_hour", "max_unlocks_per_booking", "llm_min_interval_seconds",
    "max_auto_replies_per_thread", "tokens_per_location_day", "tokens_per_location_month"};
const std::set<std::string> kWindowSettings = {"start", "end"};

std::string Joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void RequireKnownKeys(const json& j, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [key, value] : j.items())
    if (!known.count(key))
      throw InvalidProfile(where + "." + key + ": unknown setting (known: " + Joined(known) + ")");
}

void Flag(const json& j, const char* key, bool& into, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return;
  if (!j.at(key).is_boolean()) throw InvalidProfile(where + "." + key + ": must be true or false");
  into = j.at(key).get<bool>();
}

void Share(const json& j, const char* key, double& into, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return;
  const json& v = j.at(key);
  if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1)
    throw InvalidProfile(where + "." + key + ": must be a number within 0..1");
  into = v.get<double>();
}

// A whole number within 0..`bound.max`, checked as the JSON number it is (signed or unsigned 64
// bits) before it is narrowed to the field's type: 2147483648 once became -2147483648, and
// 2^32+1 became 1.
template <typename T>
void WholeNumber(const json& j, const char* key, const WholeNumberBound& bound, T& into,
                 const std::string& where) {
  static_assert(std::is_integral_v<T>);
  if (!j.contains(key) || j.at(key).is_null()) return;
  const json& v = j.at(key);
  CLUBOS_ASSERT(bound.max <= static_cast<int64_t>(std::numeric_limits<T>::max()),
                "a profile bound must fit its field");
  const bool in_range =
      (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(bound.max)) ||
      (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() >= 0 &&
       v.get<int64_t>() <= bound.max);
  if (!in_range)
    throw InvalidProfile(where + "." + key + ": must be a whole number within 0.." +
                         std::to_string(bound.max) + " (" + bound.unit + ")");
  into = static_cast<T>(v.get<int64_t>());
}

json RulesJson(const CategoryRules& r) {
  json j = {{"autonomy", r.autonomy},
            {"confidence_threshold", r.confidence_threshold},
            {"require_booking", r.require_booking},
            {"time_restrictions", nullptr},
            {"cooldown_seconds", r.cooldown_seconds},
            {"max_fallbacks", r.max_fallbacks},
            {"confirmation", r.confirmation_required ? "required" : "none"},
            {"booking_window_minutes", r.booking_window_minutes},
            {"deny_if_customer_flagged", r.deny_if_customer_flagged},
            {"max_attempts_per_booking", r.max_attempts_per_booking},
            {"use_cheaper_model", r.use_cheaper_model}};
  if (r.hours)
    j["time_restrictions"] = {{"start", Clock(r.hours->start_minute)},
                              {"end", Clock(r.hours->end_minute)}};
  return j;
}

json LimitsJson(const Limits& l) {
  return {{"max_resets_per_bay_per_hour", l.max_resets_per_bay_per_hour},
          {"max_unlocks_per_booking", l.max_unlocks_per_booking},
          {"llm_min_interval_seconds", l.llm_min_interval_seconds},
          {"max_auto_replies_per_thread", l.max_auto_replies_per_thread},
          {"tokens_per_location_day", l.tokens_per_location_day},
          {"tokens_per_location_month", l.tokens_per_location_month}};
}

json ProfileJson(const Profile& p) {
  json j = json::object();
  for (const auto& [name, rules] : p.categories) j[name] = RulesJson(rules);
  j["limits"] = LimitsJson(p.limits);
  return j;
}

void DiffInto(const json& a, const json& b, const std::string& path, json& out) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items())
      DiffInto(v, b.contains(k) ? b.at(k) : json(), path.empty() ? k : path + "." + k, out);
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) DiffInto(json(), v, path.empty() ? k : path + "." + k, out);
    return;
  }
  if (a != b) out.push_back({{"path", path}, {"from", a}, {"to", b}});
}

Decision Escalate(std::string code, std::vector<std::string> reasons, int priority = 100) {
  Decision d;
  d.outcome = "escalate";
  d.escalation_reason = std::move(code);
  d.reasons = std::move(reasons);
  d.priority = priority;
  return d;
}

std::string Ago(int64_t seconds) {
  return seconds < 120 ? std::to_string(seconds) + " s" : std::to_string(seconds / 60) + " min";
}

}  // namespace

bool Window::Contains(int minute) const {
  if (start_minute <= end_minute) return minute >= start_minute && minute < end_minute;
  return minute >= start_minute || minute < end_minute;  // crosses midnight
}

Profile Profile::FromJson(const std::string& text) {
  const json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object())
    throw InvalidProfile("the profile must be a JSON object");
  Profile p;
  for (const auto& [name, j] : root.items()) {
    if (name == "limits") {
      if (!j.is_object()) throw InvalidProfile("limits: must be an object");
      RequireKnownKeys(j, kLimitSettings, "limits");
      Limits& l = p.limits;
      WholeNumber(j, "max_resets_per_bay_per_hour", kResetsPerBayPerHour,
                  l.max_resets_per_bay_per_hour, "limits");
      WholeNumber(j, "max_unlocks_per_booking", kUnlocksPerBooking, l.max_unlocks_per_booking,
                  "limits");
      WholeNumber(j, "llm_min_interval_seconds", kLlmMinIntervalSeconds, l.llm_min_interval_seconds,
                  "limits");
      WholeNumber(j, "max_auto_replies_per_thread", kAutoRepliesPerThread,
                  l.max_auto_replies_per_thread, "limits");
      WholeNumber(j, "tokens_per_location_day", kTokensPerLocationDay, l.tokens_per_location_day,
                  "limits");
      WholeNumber(j, "tokens_per_location_month", kTokensPerLocationMonth,
                  l.tokens_per_location_month, "limits");
      continue;
    }
    if (!j.is_object()) throw InvalidProfile(name + ": must be an object");
    RequireKnownKeys(j, kCategorySettings, name);
    CategoryRules r;
    Flag(j, "autonomy", r.autonomy, name);
    Share(j, "confidence_threshold", r.confidence_threshold, name);
    Flag(j, "require_booking", r.require_booking, name);
    WholeNumber(j, "cooldown_seconds", kCooldownSeconds, r.cooldown_seconds, name);
    WholeNumber(j, "max_fallbacks", kFallbacks, r.max_fallbacks, name);
    WholeNumber(j, "booking_window_minutes", kBookingWindowMinutes, r.booking_window_minutes, name);
    Flag(j, "deny_if_customer_flagged", r.deny_if_customer_flagged, name);
    WholeNumber(j, "max_attempts_per_booking", kAttemptsPerBooking, r.max_attempts_per_booking,
                name);
    Flag(j, "use_cheaper_model", r.use_cheaper_model, name);
    if (j.contains("confirmation") && !j.at("confirmation").is_null()) {
      const json& c = j.at("confirmation");
      if (!c.is_string() || (c != "required" && c != "none"))
        throw InvalidProfile(name + ".confirmation: must be \"required\" or \"none\"");
      r.confirmation_required = c == "required";
    }
    if (j.contains("time_restrictions") && !j.at("time_restrictions").is_null()) {
      const json& t = j.at("time_restrictions");
      if (t.is_object()) RequireKnownKeys(t, kWindowSettings, name + ".time_restrictions");
      auto clock_of = [&](const char* key) {
        return t.is_object() && t.contains(key) && t[key].is_string()
                   ? ParseClock(t[key].get<std::string>()).value_or(-1)
                   : -1;
      };
      const int start = clock_of("start"), end = clock_of("end");
      if (start < 0 || end < 0 || start % 1440 == end % 1440)
        throw InvalidProfile(name +
                             ".time_restrictions: needs {\"start\": \"HH:MM\", \"end\": "
                             "\"HH:MM\"} with different times");
      r.hours = Window{start % 1440, end % 1440};
    }
    p.categories[name] = r;
  }
  return p;
}

Profile Profile::FromProposal(const std::string& text, const std::set<std::string>& categories) {
  Profile p = FromJson(text);
  if (p.categories.empty())
    throw InvalidProfile(
        "the profile names no category: it would take autonomy away everywhere (known: " +
        Joined(categories) + ")");
  p.RequireKnownCategories(categories);
  return p;
}

void Profile::RequireKnownCategories(const std::set<std::string>& known) const {
  for (const auto& [name, rules] : categories)
    if (!known.count(name))
      throw InvalidProfile(
          name + ": unknown category; its rules would never apply (known: " + Joined(known) + ")");
}

std::set<std::string> ProfileCategories(const RouterConfig& router) {
  std::set<std::string> out = {"emergency", "faq"};  // the router concludes these by itself
  for (const auto& [name, phrases] : router.categories) out.insert(name);
  return out;
}

std::string Profile::ToJson() const {
  return ProfileJson(*this).dump();
}

std::string Profile::Diff(const Profile& from, const Profile& to) {
  json out = json::array();
  DiffInto(ProfileJson(from), ProfileJson(to), "", out);
  return out.dump();
}

std::string Facts::ToJson() const {
  json j = {{"now", FormatTimestamp(now)},
            {"local_time", Clock(local_minute)},
            {"actions_on_asset_last_hour", actions_on_asset_last_hour},
            {"seconds_since_last_on_asset", nullptr},
            {"unlocks_for_booking", unlocks_for_booking},
            {"previous_unlock_failed", previous_unlock_failed},
            {"automated_replies_on_thread", automated_replies_on_thread},
            {"tokens_today", tokens_today},
            {"tokens_month", tokens_month},
            {"integration_reachable", integration_reachable},
            {"emergency_stop", emergency_stop},
            {"auto_send", auto_send},
            {"auto_execute", auto_execute},
            {"rapid_messages", rapid_messages},
            {"booking", nullptr}};
  if (seconds_since_last_on_asset) j["seconds_since_last_on_asset"] = *seconds_since_last_on_asset;
  if (booking) {
    j["booking"] = {{"id", booking->id},
                    {"bay", nullptr},
                    {"start", FormatTimestamp(booking->start)},
                    {"end", FormatTimestamp(booking->end)},
                    {"customer_flagged", booking->customer_flagged}};
    if (booking->bay) j["booking"]["bay"] = *booking->bay;
  }
  return j.dump();
}

Facts Facts::FromJson(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  Facts f;
  if (!j.is_object()) return f;
  f.now = ParseTimestamp(j.value("now", std::string())).value_or(TimePoint{});
  f.local_minute = ParseClock(j.value("local_time", std::string("00:00"))).value_or(0);
  f.actions_on_asset_last_hour = j.value("actions_on_asset_last_hour", 0);
  if (j.contains("seconds_since_last_on_asset") && j["seconds_since_last_on_asset"].is_number())
    f.seconds_since_last_on_asset = j["seconds_since_last_on_asset"].get<int64_t>();
  f.unlocks_for_booking = j.value("unlocks_for_booking", 0);
  f.previous_unlock_failed = j.value("previous_unlock_failed", false);
  f.automated_replies_on_thread = j.value("automated_replies_on_thread", 0);
  f.tokens_today = j.value("tokens_today", int64_t{0});
  f.tokens_month = j.value("tokens_month", int64_t{0});
  f.integration_reachable = j.value("integration_reachable", true);
  f.emergency_stop = j.value("emergency_stop", std::string());
  f.auto_send = j.value("auto_send", true);
  f.auto_execute = j.value("auto_execute", true);
  f.rapid_messages = j.value("rapid_messages", false);
  if (j.contains("booking") && j["booking"].is_object()) {
    const json& b = j["booking"];
    BookingFact bf;
    bf.id = b.value("id", std::string());
    if (b.contains("bay") && b["bay"].is_number_integer()) bf.bay = b["bay"].get<int>();
    bf.start = ParseTimestamp(b.value("start", std::string())).value_or(TimePoint{});
    bf.end = ParseTimestamp(b.value("end", std::string())).value_or(TimePoint{});
    bf.customer_flagged = b.value("customer_flagged", false);
    f.booking = bf;
  }
  return f;
}

Planned Plan(const Intent& intent, const Location& location, const KnowledgeSnapshot& knowledge) {
  ActionPlan plan;
  plan.location = location.id;
  plan.category = intent.category;
  // The procedure on file for the action, cited in its reason (the outcome's followed_sop).
  auto followed = [&](const std::string& action, const std::string& what) {
    const StoredKnowledge* sop = knowledge.Procedure(location.id, intent.category, action);
    return (sop ? CiteSop(sop->entry.id, sop->version) + " (" + sop->entry.title + ")"
                : std::string("no SOP on file for ") + intent.category + "/" + action) +
           ": " + what;
  };
  if (intent.action == "reset_trackman") {
    if (!intent.bay) return {std::nullopt, "low_confidence", "no bay named"};
    const Bay* bay = location.FindBay(*intent.bay);
    if (!bay)
      return {std::nullopt, "policy_denied",
              "no bay " + std::to_string(*intent.bay) + " at " + location.name +
                  ": never act on an unknown target"};
    plan.kind = "reset_trackman";
    plan.bay = bay->number;
    plan.device_id = bay->device_id;
    plan.reason =
        followed("reset_trackman", "restart TrackMan on the bay PC, verify it comes back");
  } else if (intent.action == "unlock_door") {
    if (location.doors.empty())
      return {std::nullopt, "policy_denied", "no door configured at " + location.name};
    const Door& door = location.doors.front();
    plan.kind = "unlock_door";
    plan.door_id = door.id;
    plan.device_id = door.device_id;
    plan.reason = followed("unlock_door",
                           "remote unlock of the " + door.name + ", verify the opening is logged");
  } else if (intent.action == "answer" && intent.faq_topic.empty() && !intent.reply.empty()) {
    // The model's draft: the guard already held every figure in it to the knowledge it was given.
    plan.kind = "send_message";
    plan.text = intent.reply;
    plan.reason =
        "no SOP: OperatorGPT's drafted answer, its figures held to the knowledge it was given";
  } else if (intent.action == "answer") {
    const FaqTable& table = knowledge.Faq(location.id);
    const auto faq = table.find(intent.faq_topic);
    if (faq == table.end())
      return {std::nullopt, "low_confidence", "no answer on file for this question"};
    plan.kind = "send_message";
    plan.text = faq->second.answer;
    plan.reason = CiteSop(faq->second.sop_id, faq->second.version) + ": answer from the FAQ";
  } else {
    return {std::nullopt, "low_confidence",
            "no action recognised for a " + intent.category + " message"};
  }
  return {plan, "", ""};
}

Decision Decide(const PolicyInput& in) {
  const Intent& intent = in.intent;
  const Facts& f = in.facts;
  const Limits& limits = in.profile.limits;
  std::vector<std::string> reasons;
  auto escalate = [&](std::string code, std::string why, int priority = 100) {
    reasons.push_back(std::move(why));
    Decision d = Escalate(std::move(code), reasons, priority);
    d.policy_version = in.profile.version;
    return d;
  };
  for (const auto& flag : intent.flags) reasons.push_back("router flag " + flag);

  if (!intent.must_escalate.empty()) {
    Decision d =
        Escalate(intent.must_escalate, reasons, intent.must_escalate == "emergency" ? 0 : 50);
    d.policy_version = in.profile.version;
    return d;
  }
  if (f.rapid_messages)
    return escalate("rapid_messages",
                    "the customer sent several messages within a minute after ClubOS answered", 50);
  if (!f.emergency_stop.empty())
    return escalate("emergency_stop", "emergency stop engaged (" + f.emergency_stop + ")", 50);
  // Unsure, and the model could not be asked: the reason is why it could not (it is down, or the
  // location's token budget is spent), so operators see the degraded service for what it is.
  auto unsure = [&](std::string why) {
    if (intent.unconsulted.empty()) return escalate("low_confidence", std::move(why));
    return escalate(intent.unconsulted,
                    why + "; the model could not be asked (" + intent.unconsulted + ")");
  };
  if (intent.category.empty()) return unsure("no category recognised");
  const auto it = in.profile.categories.find(intent.category);
  if (it == in.profile.categories.end())
    return escalate("policy_denied", "no autonomy profile for " + intent.category);
  const CategoryRules& rules = it->second;
  if (intent.confidence < rules.confidence_threshold)
    return unsure("confidence " + Fixed(intent.confidence) + " below the " + intent.category +
                  " threshold " + Fixed(rules.confidence_threshold));
  reasons.push_back("category " + intent.category + " at " + Fixed(intent.confidence) +
                    " (threshold " + Fixed(rules.confidence_threshold) + ")");
  if (!rules.autonomy) return escalate("policy_denied", "autonomy is off for " + intent.category);
  if (rules.hours && !rules.hours->Contains(f.local_minute))
    return escalate("outside_hours", "local time " + Clock(f.local_minute) + " is outside " +
                                         intent.category + " hours " +
                                         Clock(rules.hours->start_minute) + "-" +
                                         Clock(rules.hours->end_minute));
  const Planned planned = Plan(intent, in.location, in.knowledge);
  if (!planned.plan)
    return planned.code == "low_confidence" ? unsure(planned.why)
                                            : escalate(planned.code, planned.why);
  const ActionPlan& plan = *planned.plan;

  if (plan.Physical() && !f.integration_reachable)
    return escalate("integration_unavailable",
                    "the system that performs " + plan.kind + " is not reachable");
  if (rules.require_booking && !f.booking)
    return escalate("no_booking",
                    "a booking is required for " + intent.category + " actions and none was found");
  if (plan.kind == "reset_trackman") {
    if (f.booking && f.booking->bay && plan.bay && *f.booking->bay != *plan.bay)
      return escalate("policy_denied", "the customer's booking is for bay " +
                                           std::to_string(*f.booking->bay) + ", not bay " +
                                           std::to_string(*plan.bay));
    if (rules.cooldown_seconds > 0 && f.seconds_since_last_on_asset &&
        *f.seconds_since_last_on_asset < rules.cooldown_seconds)
      return escalate("cooldown", "bay " + std::to_string(*plan.bay) + " was acted on " +
                                      Ago(*f.seconds_since_last_on_asset) + " ago (cooldown " +
                                      Ago(rules.cooldown_seconds) + ")");
    if (f.actions_on_asset_last_hour >= limits.max_resets_per_bay_per_hour)
      return escalate("cooldown", std::to_string(f.actions_on_asset_last_hour) + " resets of bay " +
                                      std::to_string(*plan.bay) + " in the last hour (limit " +
                                      std::to_string(limits.max_resets_per_bay_per_hour) + ")");
  }
  if (plan.kind == "unlock_door") {
    if (!f.booking) return escalate("no_booking", "no booking for this customer at this location");
    if (!WithinAccessWindow(f.booking->start, f.booking->end, rules.booking_window_minutes, f.now))
      return escalate("no_booking", "booking " + f.booking->id + " is not within its window (" +
                                        std::to_string(rules.booking_window_minutes) +
                                        " min before the start until the end)");
    if (rules.deny_if_customer_flagged && f.booking->customer_flagged)
      return escalate("policy_denied", "the customer is flagged: no automated door access");
    if (rules.max_attempts_per_booking > 0 &&
        f.unlocks_for_booking >= rules.max_attempts_per_booking)
      return escalate("policy_denied", std::to_string(f.unlocks_for_booking) +
                                           " unlock attempts for booking " + f.booking->id +
                                           " (limit " +
                                           std::to_string(rules.max_attempts_per_booking) + ")");
    if (f.unlocks_for_booking >= limits.max_unlocks_per_booking && !f.previous_unlock_failed)
      return escalate("policy_denied", "the door was already unlocked for booking " +
                                           f.booking->id + " and that unlock did not fail");
    reasons.push_back("booking " + f.booking->id + " is within its window");
  }
  if (plan.kind == "send_message" &&
      f.automated_replies_on_thread >= limits.max_auto_replies_per_thread)
    return escalate("policy_denied", std::to_string(f.automated_replies_on_thread) +
                                         " automated replies on this thread (limit " +
                                         std::to_string(limits.max_auto_replies_per_thread) + ")");

  Decision d;
  d.action = plan;
  d.policy_version = in.profile.version;
  if ((plan.Physical() && !f.auto_execute) || (!plan.Physical() && !f.auto_send)) {
    d.outcome = "suggest";
    reasons.push_back(std::string(plan.Physical() ? "auto-execute" : "auto-send") +
                      " is off: stored as a suggestion for an operator");
  } else if (plan.Physical() && rules.confirmation_required) {
    d.outcome = "confirm_first";
    reasons.push_back("confirmation required before a physical action");
  } else {
    d.outcome = "execute";
  }
  d.reasons = std::move(reasons);
  return d;
}

}  // namespace clubos::workflows
