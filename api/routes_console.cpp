// What the operator console needs beyond the operator routes: its own files (compiled in), and the
// live event feed (GET /v1/events).
#include <algorithm>

#include "api/console_assets.h"
#include "api/events.h"
#include "api/internal.h"
#include "core/text.h"
#include "core/time_format.h"
#include "core/time_zone.h"
#include "workflows/flow.h"

namespace clubos::api {
namespace {

// The console's files: same-origin only (no inline script or style, nothing from elsewhere), never
// framed, no referrer. Revalidated at every load (cheap: a 304 by ETag), so an upgrade of the
// binary is seen at once.
Response Asset(const Request& r, const ConsoleAsset& a) {
  Response res{200, a.content_type, "", {}};
  res.headers = {{"ETag", a.etag},
                 {"Cache-Control", "no-cache"},
                 {"Vary", "Accept-Encoding"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"},
                 {"Content-Security-Policy",
                  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
                  "frame-ancestors 'none'"}};
  if (const auto inm = r.Header("if-none-match"); inm && inm->find(a.etag) != std::string::npos) {
    res.status = 304;
    return res;
  }
  const auto accept = r.Header("accept-encoding").value_or("");
  if (accept.find("gzip") != std::string::npos && accept.find("gzip;q=0") == std::string::npos) {
    res.headers.emplace_back("Content-Encoding", "gzip");
    res.body.assign(a.gzip);
  } else {
    res.body.assign(a.raw);
  }
  return res;
}

const ConsoleAsset* FindAsset(const std::string& path) {
  for (const auto& a : ConsoleAssets())
    if (path == a.path) return &a;
  return nullptr;
}

// The feed's cursor: "<transaction id>-<transition id>-<control event id>" (migration 0012: the
// order no later commit can get behind, and the last change of the controls seen). Opaque to
// clients; they hand back what they were given, as Last-Event-ID.
struct Cursor {
  std::string tx;  // decimal xid8
  int64_t id = 0;
  int64_t controls = 0;
  std::string Text() const {
    return tx + "-" + std::to_string(id) + "-" + std::to_string(controls);
  }
};

std::optional<Cursor> ParseCursor(const std::string& s) {
  const auto d1 = s.find('-');
  const auto d2 = d1 == std::string::npos ? d1 : s.find('-', d1 + 1);
  if (d2 == std::string::npos || d1 == 0 || d1 > 20) return std::nullopt;
  const std::string tx = s.substr(0, d1);
  if (!std::all_of(tx.begin(), tx.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const auto id = ParseInt64(s.substr(d1 + 1, d2 - d1 - 1));
  const auto controls = ParseInt64(s.substr(d2 + 1));
  if (!id || *id < 0 || !controls || *controls < 0) return std::nullopt;
  return Cursor{tx, *id, *controls};
}

// The longest a request waits for news, and how soon the console reads again after an answer
// (the SSE `retry`): at once when it waited, later when it was turned away from waiting.
constexpr Millis kMaxWait{25'000};
constexpr int kRetryAfterWaitMs = 100;
constexpr int kRetryWhenBusyMs = 2'000;
// After a notification whose history is not yet readable (an older transaction still runs: the
// cursor may not pass it, and its end may notify nobody), read again this often, this many times,
// then every kHeldBackSlowPoll until the answer is due.
constexpr Millis kHeldBackPoll{50};
constexpr int kHeldBackPolls = 20;
constexpr Millis kHeldBackSlowPoll{250};
constexpr int kBatchMax = 500;
// A bay agent heartbeats every 30 s or so; one silent this long is offline (the original's rule).
constexpr Millis kAgentOfflineAfter{120'000};

}  // namespace

Response GetConsoleIndex(ApiServer::Impl&, const Request& r, const Principal&) {
  const ConsoleAsset* a = FindAsset("/index.html");
  if (!a) return Response::Error(404, "not_found", "this build has no console");
  return Asset(r, *a);
}

Response GetConsoleAsset(ApiServer::Impl&, const Request& r, const Principal&) {
  const ConsoleAsset* a = FindAsset("/" + r.Param("file"));
  if (!a) return Response::Error(404, "not_found", "no such file of the console");
  return Asset(r, *a);
}

// GET /v1/events: the history as server-sent events (or JSON for `Accept: application/json`),
// after the cursor of Last-Event-ID (or ?after=; none: from now). Waits up to ?wait= ms (SSE: 25 s
// by default; JSON: 0) for something to say, then answers and ends; EventSource reconnects after
// `retry` with the cursor of the last event it saw, so nothing is missed between two answers.
Response GetEvents(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string accept = r.Header("accept").value_or("");
  const bool as_json = accept.find("application/json") != std::string::npos &&
                       accept.find("text/event-stream") == std::string::npos;
  std::optional<std::string> given = r.Header("last-event-id");
  if (!given || given->empty()) given = r.Query("after");
  std::optional<Cursor> cursor;
  if (given && !given->empty()) {
    cursor = ParseCursor(*given);
    if (!cursor) throw BadRequest("the cursor (Last-Event-ID or after) is not one this feed gave");
  }
  Millis wait = as_json ? Millis(0) : kMaxWait;
  if (const auto w = r.Query("wait")) {
    const auto v = ParseInt64(*w);
    if (!v || *v < 0 || *v > kMaxWait.count())
      throw BadRequest("wait must be a whole number of milliseconds within 0.." +
                       std::to_string(kMaxWait.count()));
    wait = Millis(*v);
  }
  // A client without a cursor learns one at once (EventSource then shows the stream open), and
  // waits from the next request on.
  if (!cursor) wait = Millis(0);
  EventFeed::Slot slot = wait.count() > 0 ? api.events.TryWait() : EventFeed::Slot(nullptr);
  const bool waited = static_cast<bool>(slot) || !cursor;
  if (!waited) wait = Millis(0);

  const auto deadline = MonoNow() + wait;
  uint64_t seen = api.events.Now();
  json items = json::array();
  bool controls_changed = false;
  bool news = false;  // a notification came while this request waited
  int fast_polls = 0;
  for (;;) {
    {
      auto db = api.Db();  // leased per read, never held while waiting
      const auto now_seen = db->ExecOne("events_controls");
      const int64_t controls = now_seen.At(0, "id").Int64();
      if (!cursor) {
        cursor = Cursor{now_seen.At(0, "tx").Str(), 0, controls};
      } else if (controls != cursor->controls) {
        controls_changed = true;  // read by the database, so no change between answers is missed
        cursor->controls = controls;
      }
      const auto rows = db->ExecOne("events_after", {cursor->tx, cursor->id, kBatchMax});
      for (std::size_t i = 0; i < rows.Size(); ++i) {
        cursor->tx = rows.At(i, "tx").Str();
        cursor->id = rows.At(i, "id").Int64();
        items.push_back({{"id", rows.At(i, "id").Int64()},
                         {"cursor", cursor->Text()},
                         {"machine", rows.At(i, "entity").Str()},
                         {"entity_id", rows.At(i, "entity_id").Int64()},
                         {"thread_id", rows.At(i, "thread_id").IsNull()
                                           ? json(nullptr)
                                           : json(rows.At(i, "thread_id").Int64())},
                         {"event", rows.At(i, "event").Str()},
                         {"from", TextField(rows.At(i, "from_state"))},
                         {"to", rows.At(i, "to_state").Str()},
                         {"actor", rows.At(i, "actor").Str()},
                         {"at", TimeJson(rows.At(i, "at"))}});
      }
    }
    const auto now = MonoNow();
    if (!items.empty() || controls_changed || now >= deadline || api.events.stopping() ||
        api.draining)
      break;
    const auto left = std::chrono::duration_cast<Millis>(deadline - now);
    const Millis next = fast_polls > 0 ? kHeldBackPoll : news ? kHeldBackSlowPoll : left;
    const uint64_t before = seen;
    seen = api.events.Wait(seen, std::min(left, next));
    if (seen != before) {
      news = true;  // read now, and soon again if it is held back
      fast_polls = kHeldBackPolls;
    } else if (fast_polls > 0) {
      --fast_polls;
    }
  }

  if (as_json)
    return JsonResponse(200, json{{"items", items},
                                  {"last_id", cursor->Text()},
                                  {"controls_changed", controls_changed}});
  std::string body =
      "retry: " + std::to_string(waited ? kRetryAfterWaitMs : kRetryWhenBusyMs) + "\n\n";
  for (const auto& e : items)
    body += "id: " + e["cursor"].get<std::string>() +
            "\nevent: transition\ndata: " + e.dump(-1, ' ', false, json::error_handler_t::replace) +
            "\n\n";
  if (controls_changed) body += "event: controls\ndata: {}\n\n";
  if (items.empty())  // the cursor, for a client that came without one (or a new controls id)
    body += "id: " + cursor->Text() + "\nevent: cursor\ndata: {\"cursor\":\"" + cursor->Text() +
            "\"}\n\n";
  Response res{200, "text/event-stream; charset=utf-8", std::move(body), {}};
  res.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  return res;
}

// GET /v1/status: the facility at a glance. Bays and doors per location (from the
// configuration), each bay agent's last heartbeat, what each integration met in the last hour,
// and today's figures since the first location's midnight.
namespace {
Response StatusFrom(ApiServer::Impl& api, store::Connection& db) {
  const Config& config = api.flow.config();
  const TimePoint now = api.clock.Now();
  const auto agents = db.ExecOne("status_agents");
  std::map<std::string, json> by_device;
  for (std::size_t i = 0; i < agents.Size(); ++i) {
    const TimePoint seen = agents.At(i, "last_seen_at").Time();
    by_device[agents.At(i, "device_id").Str()] = {
        {"last_heartbeat_at", FormatIso8601(seen)},
        {"online", now - seen < kAgentOfflineAfter},
        {"tps_running", agents.At(i, "tps_running").Bool()},
        {"radar_reachable", agents.At(i, "radar_reachable").Bool()},
        {"tps_version", TextField(agents.At(i, "tps_version"))}};
  }
  json locations = json::array();
  for (const auto& l : config.locations) {
    json bays = json::array(), doors = json::array();
    for (const auto& b : l.bays) {
      const auto it = by_device.find(b.device_id);
      bays.push_back(
          {{"bay", b.number},
           {"control", b.control},
           {"agent", b.control == "agent" && it != by_device.end() ? it->second : json(nullptr)}});
    }
    for (const auto& d : l.doors) doors.push_back({{"id", d.id}, {"name", d.name}});
    locations.push_back({{"id", l.id}, {"name", l.name}, {"bays", bays}, {"doors", doors}});
  }

  // What each vendor answered in the last hour: unhealthy when its latest outcome is a failure.
  json integrations = json::array();
  auto health = [&](const std::string& name, int64_t ok, int64_t failed,
                    const store::Field& last_ok, const store::Field& last_failed) {
    const bool failing_last =
        !last_failed.IsNull() && (last_ok.IsNull() || last_failed.Time() > last_ok.Time());
    const bool healthy = failed == 0 || (!failing_last && ok > 0);
    integrations.push_back({{"name", name},
                            {"healthy", healthy},
                            {"detail", std::to_string(ok) + " ok, " + std::to_string(failed) +
                                           " failed in the last hour"},
                            {"last_success_at", TimeJson(last_ok)}});
  };
  const std::map<std::string, std::string> vendor = {{"reset_trackman", "bay PCs (TrackMan reset)"},
                                                     {"reboot_pc", "bay PCs (reboot)"},
                                                     {"unlock_door", "UniFi Access (doors)"},
                                                     {"send_message", "OpenPhone (texts)"}};
  const auto calls = db.ExecOne("status_integrations", {api.clock.DbNow()});
  for (std::size_t i = 0; i < calls.Size(); ++i) {
    const auto it = vendor.find(calls.At(i, "kind").Str());
    if (it == vendor.end()) continue;
    health(it->second, calls.At(i, "ok").Int64(), calls.At(i, "failed").Int64(),
           calls.At(i, "last_ok"), calls.At(i, "last_failed"));
  }
  // Slack: a sent alert leaves no row (a completed job is deleted): only failures are known.
  const auto slack = db.ExecOne("status_notifications", {api.clock.DbNow()});
  const int64_t slack_failed = slack.At(0, "failed").Int64();
  integrations.push_back(
      {{"name", "Slack (operator alerts)"},
       {"healthy", slack_failed == 0},
       {"detail", slack_failed == 0 ? std::string("no alert failing in the last hour")
                                    : std::to_string(slack_failed) + " failing in the last hour (" +
                                          std::to_string(slack.At(0, "dead").Int64()) + " dead)"},
       {"last_success_at", nullptr}});

  // OperatorGPT: degraded while an outage is open (unsure texts go to a human without a call).
  if (config.integrations.llm.Enabled()) {
    const auto m = db.ExecOne("status_llm", {api.clock.DbNow()});
    const bool down = !m.At(0, "outage_since").IsNull();
    integrations.push_back(
        {{"name", "OperatorGPT (model)"},
         {"healthy", !down},
         {"detail", down ? "degraded since " + FormatIso8601(m.At(0, "outage_since").Time()) +
                               " (" + m.At(0, "outage_reason").Str() +
                               "): patterns only, unsure texts go to the inbox"
                         : std::to_string(m.At(0, "ok").Int64()) + " answered, " +
                               std::to_string(m.At(0, "cached").Int64()) + " from the cache, " +
                               std::to_string(m.At(0, "failed").Int64()) +
                               " failed in the last hour"},
         {"last_success_at", TimeJson(m.At(0, "last_ok"))}});
  }

  // Today, from the first location's midnight (the facilities of one ClubOS share a zone).
  const auto zone = config.locations.empty() || config.locations[0].time_zone.empty()
                        ? TimeZone::Utc()
                        : TimeZone::Load(config.locations[0].time_zone);
  const auto since_midnight =
      std::chrono::minutes(zone->LocalMinuteOfDay(now)) +
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) % 60;
  const TimePoint midnight =
      std::chrono::time_point_cast<std::chrono::seconds>(now) - since_midnight;
  const auto t = db.ExecOne("status_today", {midnight});
  const int64_t threads = t.At(0, "threads").Int64();
  return JsonResponse(
      200,
      json{{"locations", locations},
           {"integrations", integrations},
           {"today",
            {{"since", FormatIso8601(midnight)},
             {"messages", t.At(0, "messages").Int64()},
             {"threads", threads},
             {"automated", t.At(0, "automated").Int64()},
             {"automated_share",
              threads ? json(static_cast<double>(t.At(0, "automated").Int64()) / threads) : json()},
             {"escalations_by_reason", JsonField(t.At(0, "escalations_by_reason"))},
             {"median_message_to_verified_s",
              t.At(0, "median_to_verified_s").IsNull()
                  ? json(nullptr)
                  : json(std::stod(t.At(0, "median_to_verified_s").Str()))}}}});
}
}  // namespace

Response GetStatus(ApiServer::Impl& api, const Request&, const Principal&) {
  // A status page polled now and then may lag the primary by the read route's max_lag.
  return api.Read(store::ReadRoute::Freshness::kWithinMaxLag,
                  [&](store::Connection& db) { return StatusFrom(api, db); });
}

}  // namespace clubos::api
