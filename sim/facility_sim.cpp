#include "sim/facility_sim.h"

#include "sim/agents.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "core/assert.h"
#include "core/log.h"
#include "sim/core.h"

namespace clubos::sim {
namespace detail {
namespace {

// Request bodies longer than this are cut in the call log (the answer still saw all of it).
constexpr std::size_t kMaxLoggedBodyBytes = 64 * 1024;

std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

// A stable uuid-looking id for a location's floor (UniFi doors name their floor by id).
std::string FloorId(const std::string& location_id) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : location_id) h = (h ^ c) * 1099511628211ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(h >> 32),
                static_cast<unsigned long long>(h & 0xffffffffffffULL));
  return buf;
}

// Which vendor a path belongs to, for requests no route matched.
std::optional<Service> ServiceOfPath(const std::string& path) {
  auto starts = [&](const char* p) { return path.rfind(p, 0) == 0; };
  // OpenAI's paths before OpenPhone's: both live under /v1/.
  for (const char* p : {"/v1/chat/", "/v1/completions", "/v1/responses", "/v1/models"})
    if (starts(p)) return Service::kLlm;
  if (starts("/v1/")) return Service::kOpenPhone;
  if (starts("/v2/") || starts("/oauth/") || starts("/ws/")) return Service::kNinjaOne;
  if (starts("/api/v1/developer")) return Service::kUnifi;
  if (starts("/services/")) return Service::kSlack;
  return std::nullopt;
}

// The call log shows request bodies, and the NinjaOne token request carries the client secret in
// its form: the log keeps its shape and drops its value (secrets never leave the process).
std::string RedactSecrets(const std::string& path, const std::string& body) {
  if (path.size() < 12 || path.compare(path.size() - 12, 12, "/oauth/token") != 0) return body;
  const std::string key = "client_secret=";
  std::string out = body;
  for (std::size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1)) {
    if (at != 0 && out[at - 1] != '&') continue;
    const std::size_t start = at + key.size();
    const std::size_t end = std::min(out.find('&', start), out.size());
    out.replace(start, end - start, "REDACTED");
  }
  return out;
}

}  // namespace

std::string LoggedPath(const std::string& path) {
  // A Slack incoming webhook's path is its secret (/services/T.../B.../<secret>): none of it is
  // logged (defect L12: every Slack call logged it at debug level).
  if (path.rfind("/services/", 0) == 0) return "/services/***";
  return path;
}

const char* ToString(Service s) {
  switch (s) {
    case Service::kOpenPhone:
      return "openphone";
    case Service::kNinjaOne:
      return "ninjaone";
    case Service::kUnifi:
      return "unifi";
    case Service::kSlack:
      return "slack";
    case Service::kAgent:
      return "agent";
    case Service::kLlm:
      return "llm";
  }
  return "?";
}

const char* ToString(FaultMode m) {
  switch (m) {
    case FaultMode::kStuckOffline:
      return "stuck_offline";
    case FaultMode::kResetNoop:
      return "reset_noop";
    case FaultMode::kSlow:
      return "slow";
    case FaultMode::kHttp500:
      return "http_500";
    case FaultMode::kHttp429:
      return "http_429";
    case FaultMode::kHttp403:
      return "http_403";
    case FaultMode::kTokenExpired:
      return "token_expired";
    case FaultMode::kInsufficientQuota:
      return "insufficient_quota";
    case FaultMode::kMalformed:
      return "malformed";
    case FaultMode::kRefusal:
      return "refusal";
    case FaultMode::kOffSchema:
      return "off_schema";
  }
  return "?";
}

std::string Iso(TimePoint t, bool millis) {
  const int64_t us = t.time_since_epoch().count();
  int64_t secs = us / 1'000'000;
  int64_t frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // room for any int gcc imagines in the fields
  if (millis)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(frac / 1000));
  else
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

double EpochSeconds(TimePoint t) {
  return static_cast<double>(t.time_since_epoch().count()) / 1e6;
}

int64_t EpochMillis(TimePoint t) {
  return t.time_since_epoch().count() / 1000;
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json ParseObject(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && !j.is_object()) return json(json::value_t::discarded);
  return j;
}

bool IsE164(const std::string& s) {
  if (s.size() < 3 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
  for (std::size_t i = 2; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::optional<std::string> Bearer(const http::Request& r) {
  const auto h = r.Header("authorization");
  const std::string prefix = "Bearer ";
  if (!h || h->size() <= prefix.size() || h->compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  return h->substr(prefix.size());
}

std::string MaskPhones(const std::string& text) {
  constexpr std::size_t kMinPhoneDigits = 7;
  auto digit = [&](std::size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  auto separator = [&](std::size_t i) {
    return i < text.size() &&
           (text[i] == ' ' || text[i] == '-' || text[i] == '.' || text[i] == '(' || text[i] == ')');
  };
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const bool opens = (text[i] == '+' || text[i] == '(') && digit(i + 1);
    if (!digit(i) && !opens) {
      out += text[i++];
      continue;
    }
    // The run: digits, with at most two separators between two of them; it ends on a digit.
    std::size_t j = opens ? i + 1 : i, end = j, digits = 0;
    while (digit(j)) {
      for (; digit(j); ++j) ++digits;
      end = j;
      std::size_t k = j;
      while (separator(k) && k - j < 2) ++k;
      if (k == j || !digit(k)) break;
      j = k;
    }
    if (digits >= kMinPhoneDigits)
      out += log::MaskPhone(std::string_view(text).substr(i, end - i));
    else
      out.append(text, i, end - i);
    i = end;
  }
  return out;
}

Core::Core(const Config& config, SimSecrets s, SimOptions o, const Clock& c)
    : clock(c), options(std::move(o)), secrets(std::move(s)), rng(options.seed) {
  CLUBOS_ASSERT(options.llm_latency.count() >= 0 && options.llm_latency.count() <= kMaxLlmLatencyMs,
                "SimOptions::llm_latency out of range");
  llm.latency = options.llm_latency;
  if (config.integrations.ninjaone.trackman_script_id > 0)
    trackman_script_id = config.integrations.ninjaone.trackman_script_id;
  const TimePoint start = clock.Now();
  for (const auto& loc : config.locations) {
    for (const auto& line : loc.phone_lines) phone_numbers[line] = "PN" + line.substr(1);
    for (const auto& bay : loc.bays) {
      if (bay.control == "agent") {
        agent_bays.push_back({bay.device_id, loc.id, bay.number});
        continue;
      }
      const std::string where =
          "location " + loc.id + " bay " + std::to_string(bay.number) + ": device_id ";
      if (bay.device_id.empty() || bay.device_id.size() > 9 ||
          bay.device_id.find_first_not_of("0123456789") != std::string::npos)
        throw ConfigError(where + "must be a NinjaOne device id (a number) for control ninjaone");
      Device d;
      d.id = bay.device_id;
      d.numeric_id = std::stoll(bay.device_id);
      for (const auto& other : devices)
        if (other.numeric_id == d.numeric_id) throw ConfigError(where + "appears twice");
      d.location_id = loc.id;
      d.location_name = loc.name;
      d.bay = bay.number;
      d.created = start - std::chrono::hours(24 * 90);
      d.last_boot = start - std::chrono::hours(6);
      d.last_contact = start;
      devices.push_back(std::move(d));
    }
    for (const auto& door : loc.doors) {
      if (FindDoor(door.device_id))
        throw ConfigError("location " + loc.id + " door " + door.id + ": device_id appears twice");
      DoorState d;
      d.id = door.device_id;
      d.config_id = door.id;
      d.name = door.name;
      d.full_name = loc.name + " - 1F - " + door.name;
      d.floor_id = FloorId(loc.id);
      d.location_id = loc.id;
      doors.push_back(std::move(d));
    }
  }
}

std::string Core::RandomHex(std::size_t digits) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    uint64_t v = rng();
    for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4) out += kDigits[v & 0xf];
  }
  return out;
}

Device* Core::FindDevice(const std::string& id) {
  if (id.empty() || id.size() > 12 || id.find_first_not_of("0123456789") != std::string::npos)
    return nullptr;
  const int64_t n = std::stoll(id);
  for (auto& d : devices)
    if (d.numeric_id == n) return &d;
  return nullptr;
}

DoorState* Core::FindDoor(const std::string& id) {
  for (auto& d : doors)
    if (d.id == id) return &d;
  return nullptr;
}

Sms* Core::FindSms(const std::string& id) {
  for (auto& m : outbox)
    if (m.id == id) return &m;
  return nullptr;
}

void Core::AddActivity(Device& d, TimePoint at, std::string type, std::string status_code,
                       std::string source_name, std::string message) {
  d.activities.push_back({next_activity++, at, std::move(type), std::move(status_code),
                          std::move(source_name), std::move(message)});
  while (d.activities.size() > kMaxActivitiesPerDevice) d.activities.pop_front();
}

void Core::AddDoorEvent(DoorState& d, DoorEvent e) {
  d.events.push_back(std::move(e));
  while (d.events.size() > kMaxEventsPerDoor) d.events.pop_front();
}

void Core::Settle(Device& d, TimePoint now) {
  if (!d.pending || d.pending->done_at > now) return;
  const Pending p = *d.pending;
  d.pending.reset();
  if (p.reboot) {
    d.offline = false;
    d.stuck = false;
    d.last_boot = p.done_at;
    d.last_contact = p.done_at;
    AddActivity(d, p.done_at, "ACTION", "COMPLETED", p.name, "Device rebooted and is back online");
  } else {
    d.tps_restarted_at = p.done_at;
    d.last_contact = p.done_at;
    AddActivity(d, p.done_at, "SCRIPTING", "COMPLETED", p.name,
                "Script completed: TrackMan Performance Studio restarted");
  }
}

void Core::Settle(DoorState& d, TimePoint now) {
  if (d.rule == "custom" && d.rule_ends && *d.rule_ends <= now) {
    AddDoorEvent(d, {*d.rule_ends, "lock", "", "", "custom lock rule ended"});
    d.rule.clear();
    d.rule_ends.reset();
  }
  if (d.unlocked_until && *d.unlocked_until <= now) {
    if (d.rule.empty()) AddDoorEvent(d, {*d.unlocked_until, "lock", "", "", "relocked"});
    d.unlocked_until.reset();
  }
}

std::optional<Fault> Core::Take(Service s, const std::string& target,
                                const std::function<bool(FaultMode)>& applies) {
  for (auto it = faults.begin(); it != faults.end(); ++it) {
    if (it->service != s || !applies(it->mode)) continue;
    if (!it->target.empty() && it->target != target) continue;
    ++it->used;
    const Fault taken = *it;
    if (!it->until_cleared && --it->remaining <= 0) faults.erase(it);
    return taken;
  }
  return std::nullopt;
}

Millis Core::TakeSlow(Service s, const std::string& target) {
  const auto f = Take(s, target, [](FaultMode m) { return m == FaultMode::kSlow; });
  return f ? f->delay : Millis(0);
}

std::optional<Fault> Core::TakeFailure(Service s, const std::string& target, bool bearer) {
  return Take(s, target, [bearer](FaultMode m) {
    return m == FaultMode::kHttp500 || m == FaultMode::kHttp429 || m == FaultMode::kHttp403 ||
           m == FaultMode::kInsufficientQuota || (m == FaultMode::kTokenExpired && bearer);
  });
}

std::optional<FaultMode> Core::TakeReset(Service s, const std::string& target) {
  const auto f = Take(s, target, [](FaultMode m) {
    return m == FaultMode::kStuckOffline || m == FaultMode::kResetNoop;
  });
  return f ? std::optional(f->mode) : std::nullopt;
}

std::optional<FaultMode> Core::TakeAnswer(Service s, const std::string& target) {
  const auto f = Take(s, target, [](FaultMode m) {
    return m == FaultMode::kMalformed || m == FaultMode::kRefusal || m == FaultMode::kOffSchema;
  });
  return f ? std::optional(f->mode) : std::nullopt;
}

void Core::Record(Call c) {
  c.seq = next_seq++;
  c.body = RedactSecrets(c.path, c.body);
  // A prompt carries the customer's texts, and with them whatever numbers the customer typed.
  if (c.service == Service::kLlm) c.body = MaskPhones(c.body);
  if (c.body.size() > kMaxLoggedBodyBytes) c.body.resize(kMaxLoggedBodyBytes);
  log::Get()->debug("sim {} {} {} -> {}{}", ToString(c.service), c.method, LoggedPath(c.path),
                    c.status, c.fault.empty() ? "" : " (fault " + c.fault + ")");
  calls.push_back(std::move(c));
  while (calls.size() > kMaxCalls) calls.pop_front();
}

http::Response FaultAnswer(Service s, const Fault& f) {
  const FaultMode m = f.mode;
  http::Response r;
  if (m == FaultMode::kHttp403) {
    switch (s) {
      case Service::kOpenPhone:
        return http::Response::Json(403, Dump({{"message", "Forbidden (simulated)"},
                                               {"code", "forbidden"},
                                               {"status", 403},
                                               {"title", "Forbidden"}}));
      case Service::kNinjaOne:
        return http::Response::Json(403, Dump({{"resultCode", "FORBIDDEN"},
                                               {"errorMessage", "Not permitted (simulated)"},
                                               {"incidentId", nullptr}}));
      case Service::kUnifi:
      case Service::kAgent:
        return http::Response::Json(403, Dump({{"code", "CODE_AUTH_FAILED"},
                                               {"msg", "permission denied (simulated)"},
                                               {"data", nullptr}}));
      case Service::kSlack:
        return http::Response::Text(403, "action_prohibited");
      case Service::kLlm:
        return LlmFaultAnswer(f);
    }
  }
  switch (s) {
    case Service::kOpenPhone:
      if (m == FaultMode::kHttp429)
        r = http::Response::Json(429, Dump({{"message", "Too many requests"},
                                            {"code", "rate_limited"},
                                            {"status", 429},
                                            {"title", "Too Many Requests"}}));
      else
        r = http::Response::Json(500, Dump({{"message", "Internal server error (simulated)"},
                                            {"code", "internal_error"},
                                            {"status", 500},
                                            {"title", "Internal Server Error"}}));
      break;
    case Service::kNinjaOne:
      if (m == FaultMode::kTokenExpired) {
        r = http::Response::Json(
            401, Dump({{"error", "invalid_token"},
                       {"error_description", "The access token expired (simulated)"}}));
        r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      } else if (m == FaultMode::kHttp429) {
        r = http::Response::Json(429, Dump({{"resultCode", "TOO_MANY_REQUESTS"},
                                            {"errorMessage", "Rate limit exceeded (simulated)"},
                                            {"incidentId", nullptr}}));
      } else {
        r = http::Response::Json(500, Dump({{"resultCode", "INTERNAL_SERVER_ERROR"},
                                            {"errorMessage", "Internal server error (simulated)"},
                                            {"incidentId", nullptr}}));
      }
      break;
    case Service::kUnifi:
    case Service::kAgent:
      if (m == FaultMode::kTokenExpired)
        r = http::Response::Json(401, Dump({{"code", "CODE_UNAUTHORIZED"},
                                            {"msg", "token expired (simulated)"},
                                            {"data", nullptr}}));
      else if (m == FaultMode::kHttp429)
        r = http::Response::Json(429, Dump({{"code", "CODE_TOO_MANY_REQUESTS"},
                                            {"msg", "too many requests (simulated)"},
                                            {"data", nullptr}}));
      else
        r = http::Response::Json(500, Dump({{"code", "CODE_SYSTEM_ERROR"},
                                            {"msg", "system error (simulated)"},
                                            {"data", nullptr}}));
      break;
    case Service::kSlack:
      r = m == FaultMode::kHttp429 ? http::Response::Text(429, "rate_limited")
                                   : http::Response::Text(500, "rollup_error");
      break;
    case Service::kLlm:
      return LlmFaultAnswer(f);
  }
  if (m == FaultMode::kHttp429)
    r.headers.emplace_back("Retry-After", std::to_string((f.retry_after.count() + 999) / 1000));
  return r;
}

void VendorRoute(http::Server& server, Core& core, const std::string& method,
                 const std::string& pattern, Endpoint ep, VendorHandler handler) {
  server.Route(method, pattern, [&core, ep, handler](const http::Request& req) {
    Call call;
    call.at = core.clock.Now();
    call.service = ep.service;
    call.method = req.method;
    call.path = req.path;
    call.query = req.query;
    call.body = req.body;
    Millis delay{0};
    std::optional<Fault> failure;
    {
      std::lock_guard lock(core.mu);
      call.target = ep.target ? ep.target(core, req) : "";
      delay = core.TakeSlow(ep.service, call.target);
      failure = core.TakeFailure(ep.service, call.target, ep.bearer);
    }
    // Outside the lock: a slow vendor delays its own caller, not everyone else.
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    std::lock_guard lock(core.mu);
    http::Response res;
    if (failure) {
      res = FaultAnswer(ep.service, *failure);
      call.fault = ToString(failure->mode);
      // An expired token stays expired: the client has to fetch a new one.
      if (failure->mode == FaultMode::kTokenExpired && ep.service == Service::kNinjaOne)
        if (const auto token = Bearer(req)) core.tokens.erase(*token);
    } else {
      res = handler(core, req);
      if (delay.count() > 0) call.fault = ToString(FaultMode::kSlow);
    }
    call.status = res.status;
    core.Record(std::move(call));
    return res;
  });
}

}  // namespace detail

using detail::Core;

SimSecrets SimSecrets::FromEnv(const Config& config) {
  const auto& i = config.integrations;
  SimSecrets s;
  s.openphone_api_key = detail::Env(i.openphone.api_key_env);
  s.ninjaone_client_id = detail::Env(i.ninjaone.client_id_env);
  s.ninjaone_client_secret = detail::Env(i.ninjaone.client_secret_env);
  s.unifi_token = detail::Env(i.unifi.token_env);
  s.llm_api_key = detail::Env(i.llm.api_key_env);
  s.openphone_signing_secret = detail::Env("CLUBOS_OPENPHONE_SIGNING_SECRET");
  s.openphone_webhook_key = detail::Env("CLUBOS_OPENPHONE_WEBHOOK_KEY");
  return s;
}

FacilitySim::FacilitySim(const Config& config, SimSecrets secrets, SimOptions options,
                         const Clock& clock)
    : core_(std::make_unique<Core>(config, std::move(secrets), std::move(options), clock)) {}

FacilitySim::~FacilitySim() {
  StopAgents();
}

InProcessSim::InProcessSim(Config& config, SimOptions options, const Clock& clock, int threads)
    : sim_(std::make_unique<FacilitySim>(config, SimSecrets::FromEnv(config), std::move(options),
                                         clock)),
      server_(std::make_unique<http::Server>(http::ServerOptions{.threads = threads})) {
  sim_->Register(*server_);
  server_->Start();
  auto& i = config.integrations;
  i.openphone.base_url = i.ninjaone.base_url = i.unifi.base_url = url();
  ::setenv(i.slack.webhook_url_env.c_str(), (url() + "/services/T000/B000/XXXX").c_str(), 1);
}

InProcessSim::~InProcessSim() {
  server_->Stop();
}

std::string InProcessSim::url() const {
  return "http://127.0.0.1:" + std::to_string(server_->Port());
}

void FacilitySim::StartAgents(std::map<std::string, std::string> keys, Millis poll) {
  StopAgents();
  {
    std::lock_guard lock(core_->mu);
    core_->running_agents.clear();
    for (const auto& bay : core_->agent_bays)
      if (keys.count(bay.device_id)) core_->running_agents.insert(bay.device_id);
  }
  agents_ =
      std::make_unique<SimulatedAgents>(*core_, core_->options.clubos_url, std::move(keys), poll);
  agents_->Start();
}

void FacilitySim::TickAgents() {
  if (!agents_)
    agents_ = std::make_unique<SimulatedAgents>(*core_, core_->options.clubos_url,
                                                std::map<std::string, std::string>{}, Millis(0));
  agents_->Tick();
}

void FacilitySim::StopAgents() {
  if (agents_) agents_->Stop();
}

const std::vector<FacilitySim::AgentBay>& FacilitySim::agent_bays() const {
  return core_->agent_bays;
}

void FacilitySim::Register(http::Server& server) {
  detail::RegisterOpenPhone(server, *core_);
  detail::RegisterNinjaOne(server, *core_);
  detail::RegisterUnifi(server, *core_);
  detail::RegisterSlack(server, *core_);
  detail::RegisterLlm(server, *core_);
  detail::RegisterControl(server, *core_);
  server.OnAnswered([core = core_.get()](const http::Request& req, int status, Millis) {
    // Only what no vendor route answered: a path the simulator does not serve (404) or a wrong
    // method on one it does (405). Vendor routes record themselves.
    if (req.route != "(none)" && status != 405) return;
    const auto service = detail::ServiceOfPath(req.path);
    if (!service) return;
    detail::Call call;
    call.at = core->clock.Now();
    call.service = *service;
    call.method = req.method;
    call.path = req.path;
    call.query = req.query;
    call.body = req.body;
    call.status = status;
    std::lock_guard lock(core->mu);
    core->Record(std::move(call));
  });
}

std::vector<std::string> FacilitySim::StartupNotes() const {
  const auto& c = *core_;
  std::vector<std::string> notes;
  notes.push_back("simulating " + std::to_string(c.devices.size()) + " NinjaOne devices, " +
                  std::to_string(c.doors.size()) +
                  " UniFi doors, OpenPhone, Slack and an OpenAI-compatible LLM; " +
                  std::to_string(c.agent_bays.size()) +
                  " bay agents (polling ClubOS when their keys are in CLUBOS_AGENT_KEYS)");
  const auto& s = c.secrets;
  if (s.openphone_api_key.empty())
    notes.push_back(
        "openphone: API key unset (CLUBOS_OPENPHONE_API_KEY or the config's "
        "api_key_env): every /v1/messages call answers 401");
  if (s.ninjaone_client_id.empty() || s.ninjaone_client_secret.empty())
    notes.push_back(
        "ninjaone: client id or secret unset (CLUBOS_NINJAONE_CLIENT_ID / "
        "CLUBOS_NINJAONE_CLIENT_SECRET): token requests answer 401, so every call does");
  if (s.unifi_token.empty())
    notes.push_back(
        "unifi: token unset (CLUBOS_UNIFI_TOKEN): every /api/v1/developer call answers 401");
  if (s.llm_api_key.empty())
    notes.push_back(
        "llm: API key unset (CLUBOS_LLM_API_KEY or the config's integrations.llm.api_key_env): "
        "every /v1/chat/completions call answers 401");
  if (s.openphone_signing_secret.empty())
    notes.push_back(
        "customer webhooks: CLUBOS_OPENPHONE_SIGNING_SECRET unset: POST /_sim/customer "
        "answers 400 for the legacy scheme");
  if (s.openphone_webhook_key.empty())
    notes.push_back(
        "customer webhooks: CLUBOS_OPENPHONE_WEBHOOK_KEY unset: POST /_sim/customer "
        "answers 400 for scheme \"standard\"");
  return notes;
}

}  // namespace clubos::sim
