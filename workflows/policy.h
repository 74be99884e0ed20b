#pragma once
// The decision: may ClubOS act on what the router concluded, and how. Pure: no I/O, no clock. It
// reads the autonomy profile (versioned data, approved by an admin) and the facts the caller
// gathered in the same transaction that will create the action (the booking, recent actions on
// the same asset / booking / thread, budgets, controls), and answers one of execute,
// confirm_first, suggest or escalate with every reason that applied. The facts are stored with
// the decision, so `clubos policy replay` can run a proposed profile over the same inputs.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/action_kinds.h"
#include "core/clock.h"
#include "core/config.h"
#include "workflows/errors.h"
#include "workflows/knowledge_cache.h"
#include "workflows/router.h"

namespace clubos::workflows {

// A daily window in local time; end < start crosses midnight (22:00-06:00).
struct Window {
  int start_minute = 0;
  int end_minute = 0;
  bool Contains(int minute) const;
};

struct CategoryRules {
  bool autonomy = false;
  double confidence_threshold = 1.0;
  bool require_booking = false;
  std::optional<Window> hours;  // "time_restrictions": act only inside this window
  int cooldown_seconds = 0;     // since the last action on the same asset
  int max_fallbacks = 0;
  bool confirmation_required = false;  // "confirmation": "required"
  int booking_window_minutes = 0;      // access: open this long before the booking starts
  bool deny_if_customer_flagged = false;
  int max_attempts_per_booking = 0;  // 0: no limit
  bool use_cheaper_model = false;
};

struct Limits {
  int max_resets_per_bay_per_hour = 2;
  int max_unlocks_per_booking = 1;  // more only when the previous one failed
  int llm_min_interval_seconds = 15;
  int max_auto_replies_per_thread = 6;
  int64_t tokens_per_location_day = 0;  // 0: no cap
  int64_t tokens_per_location_month = 0;
};

// The range of every whole-number setting of a profile (0..max), with its unit. A value outside
// is refused by name before it is narrowed to its field.
struct WholeNumberBound {
  int64_t max;
  const char* unit;
};
inline constexpr WholeNumberBound kCooldownSeconds{7LL * 24 * 3600, "seconds"};
inline constexpr WholeNumberBound kFallbacks{10, "fallbacks"};
inline constexpr WholeNumberBound kBookingWindowMinutes{24 * 60, "minutes"};
inline constexpr WholeNumberBound kAttemptsPerBooking{100, "attempts"};
// Far beyond what a bay can do; benchmarks and chaos runs use it to mean "no limit".
inline constexpr WholeNumberBound kResetsPerBayPerHour{100'000, "resets per bay per hour"};
inline constexpr WholeNumberBound kUnlocksPerBooking{100, "unlocks per booking"};
inline constexpr WholeNumberBound kLlmMinIntervalSeconds{24 * 3600, "seconds"};
inline constexpr WholeNumberBound kAutoRepliesPerThread{1'000, "replies per thread"};
inline constexpr WholeNumberBound kTokensPerLocationDay{1'000'000'000'000, "tokens per day"};
inline constexpr WholeNumberBound kTokensPerLocationMonth{31'000'000'000'000, "tokens per month"};

struct Profile {
  int64_t version = 0;
  std::map<std::string, CategoryRules> categories;
  Limits limits;

  // {"tech": {...}, "access": {...}, ..., "limits": {...}}; throws InvalidProfile naming the path
  // (tech.cooldown_seconds) of a value of the wrong type or out of its bound, or of a setting it
  // does not know. Reads stored versions too (which ToJson wrote).
  static Profile FromJson(const std::string& json_text);
  // A profile someone proposes: FromJson's checks, and it names at least one category (an empty
  // profile would take autonomy away everywhere), each one of `categories`.
  static Profile FromProposal(const std::string& json_text,
                              const std::set<std::string>& categories);
  // InvalidProfile naming the first category not in `known`: its rules would never apply (a typo
  // of "access" left the real access rules at their defaults).
  void RequireKnownCategories(const std::set<std::string>& known) const;
  std::string ToJson() const;
  // Every changed field as [{"path": "tech.cooldown_seconds", "from": 900, "to": 600}, ...].
  static std::string Diff(const Profile& from, const Profile& to);
};

// A profile that is not one (a proposal's, or the configuration's): bad input, answered 422
// `invalid_profile` by the API's one mapping.
class InvalidProfile : public InvalidInput {
  using InvalidInput::InvalidInput;
};

// The categories a profile may give rules for: the router's, and the ones it concludes by itself
// (emergency, faq).
std::set<std::string> ProfileCategories(const RouterConfig& router);

struct BookingFact {
  std::string id;
  std::optional<int> bay;
  TimePoint start{};
  TimePoint end{};
  bool customer_flagged = false;
};

// A door may open for a booking from `minutes_before` its start until its end.
inline bool WithinAccessWindow(TimePoint start, TimePoint end, int64_t minutes_before,
                               TimePoint now) {
  return now >= start - std::chrono::minutes(minutes_before) && now < end;
}

// What the caller knows at decision time (all of it stored with the decision).
struct Facts {
  TimePoint now{};
  int local_minute = 0;  // minutes since midnight in the location's zone
  std::optional<BookingFact> booking;
  int actions_on_asset_last_hour = 0;
  std::optional<int64_t> seconds_since_last_on_asset;
  int unlocks_for_booking = 0;
  bool previous_unlock_failed = false;
  int automated_replies_on_thread = 0;
  int64_t tokens_today = 0;
  int64_t tokens_month = 0;
  bool integration_reachable = true;
  std::string emergency_stop;  // "" or the engaged scope that covers this thread
  bool auto_send = true;
  bool auto_execute = true;
  bool rapid_messages = false;

  std::string ToJson() const;
  static Facts FromJson(const std::string& json_text);
};

struct ActionPlan {
  std::string kind;  // reset_trackman | unlock_door | send_message
  std::string location;
  std::optional<int> bay;
  std::string device_id;  // the bay PC or the door
  std::string door_id;
  std::string text;    // send_message
  std::string reason;  // the SOP it follows
  std::string category;
  bool Physical() const { return IsPhysicalKind(kind); }
  // The asset whose limits apply (locked while deciding): the device, or "" for messages.
  std::string Asset() const { return Physical() ? device_id : ""; }
};

struct Decision {
  std::string outcome;            // execute | confirm_first | suggest | escalate
  std::string escalation_reason;  // when outcome is escalate: a reason code
  std::vector<std::string> reasons;
  std::optional<ActionPlan> action;
  int priority = 100;  // of the thread's jobs; emergencies 0
  int64_t policy_version = 0;
};

// What the router's conclusion would do at this location, before any rule: the action and its
// target, or nullopt with the reason code and why (an unknown bay, no answer on file).
struct Planned {
  std::optional<ActionPlan> plan;
  std::string code;  // when no plan
  std::string why;
};
// `knowledge`: the FAQ answers and the procedures an action cites (followed_sop).
Planned Plan(const Intent& intent, const Location& location, const KnowledgeSnapshot& knowledge);

struct PolicyInput {
  const Intent& intent;
  const Location& location;
  const Config& config;
  const Profile& profile;
  const Facts& facts;
  const KnowledgeSnapshot& knowledge;
};

Decision Decide(const PolicyInput& in);

}  // namespace clubos::workflows
