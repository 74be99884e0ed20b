#include "core/config.h"

#include "core/action_kinds.h"
#include "core/time_zone.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace clubos {
namespace {

using nlohmann::json;

const json& Need(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw ConfigError(where + ": missing \"" + key + "\"");
  return j.at(key);
}

std::string Str(const json& j, const char* key, const std::string& where) {
  const auto& v = Need(j, key, where);
  if (!v.is_string() || v.get<std::string>().empty())
    throw ConfigError(where + "." + key + ": must be a non-empty string");
  return v.get<std::string>();
}

std::vector<std::string> Strings(const json& j, const std::string& where) {
  if (!j.is_array()) throw ConfigError(where + ": must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : j) {
    if (!v.is_string()) throw ConfigError(where + ": must be an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// A key that ClubOS does not read is a typo or a field of another version: refused at start-up,
// not ignored until the day it was meant to matter.
void OnlyKnown(const json& j, std::initializer_list<const char*> keys, const std::string& where) {
  if (!j.is_object()) throw ConfigError(where + ": must be an object");
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* k : keys) known = known || key == k;
    if (!known) {
      std::string list;
      for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
      throw ConfigError(where + "." + key + ": unknown field (known: " + list + ")");
    }
  }
}

Millis Ms(const json& j, const char* key, Millis def, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return def;
  const auto& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    throw ConfigError(where + "." + key + ": must be a non-negative whole number of milliseconds");
  return Millis(v.get<int64_t>());
}

// What OperatorGPT's endpoint and the reviewer's share: where, the key's variable, the model,
// the limits of one call, and prices.
void ReadEndpoint(const json& j, Integrations::Llm& e, const std::string& where) {
  auto str = [&](const char* key, std::string& into) {
    if (!j.contains(key)) return;
    if (!j.at(key).is_string()) throw ConfigError(where + "." + key + ": must be a string");
    into = j.at(key).get<std::string>();
  };
  str("base_url", e.base_url);
  str("api_key_env", e.api_key_env);
  str("strong_model", e.strong_model);
  if (!e.base_url.empty() && e.base_url.rfind("http://", 0) != 0 &&
      e.base_url.rfind("https://", 0) != 0)
    throw ConfigError(where + ".base_url: must be an http:// or https:// URL");
  while (!e.base_url.empty() && e.base_url.back() == '/') e.base_url.pop_back();
  if (j.contains("max_tokens")) {
    const auto& m = j.at("max_tokens");
    if (!m.is_number_integer() || m.get<int64_t>() < 16 || m.get<int64_t>() > 16'384)
      throw ConfigError(where + ".max_tokens: must be a whole number from 16 to 16384");
    e.max_tokens = m.get<int>();
  }
  e.call_timeout = Ms(j, "call_timeout_ms", e.call_timeout, where);
  e.deadline = Ms(j, "deadline_ms", e.deadline, where);
  if (e.deadline < e.call_timeout)
    throw ConfigError(where + ".deadline_ms: must be at least call_timeout_ms");
  const json prices = j.value("price_per_mtok", json::object());
  if (!prices.is_object()) throw ConfigError(where + ": price_per_mtok must be an object");
  for (const auto& [model, p] : prices.items()) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() ||
        p[0].get<double>() < 0 || p[1].get<double>() < 0)
      throw ConfigError(where + ".price_per_mtok." + model +
                        ": must be [input, output] in USD per million tokens");
    e.price_per_mtok[model] = {p[0].get<double>(), p[1].get<double>()};
  }
}

}  // namespace

const Bay* Location::FindBay(int number) const {
  for (const auto& b : bays)
    if (b.number == number) return &b;
  return nullptr;
}

const Location* Config::LocationForLine(const std::string& phone_line) const {
  for (const auto& l : locations)
    for (const auto& p : l.phone_lines)
      if (p == phone_line) return &l;
  return nullptr;
}

const Location* Config::FindLocation(const std::string& id) const {
  for (const auto& l : locations)
    if (l.id == id) return &l;
  return nullptr;
}

Config Config::Parse(const std::string& text) {
  const json root = json::parse(text, nullptr, false);
  if (root.is_discarded()) throw ConfigError("config is not valid JSON");
  Config c;
  OnlyKnown(root,
            {"console_url", "facility", "flow", "policy", "router", "integrations", "knowledge"},
            "config");
  const auto& facility = Need(root, "facility", "config");
  OnlyKnown(facility, {"name", "locations"}, "facility");
  c.facility_name = Str(facility, "name", "facility");
  std::set<std::string> lines, ids;
  for (const auto& lj : Need(facility, "locations", "facility")) {
    Location l;
    l.id = Str(lj, "id", "facility.locations[]");
    const std::string where = "location " + l.id;
    OnlyKnown(lj, {"id", "name", "time_zone", "phone_lines", "bays", "doors"}, where);
    if (!ids.insert(l.id).second) throw ConfigError(where + ": duplicate id");
    l.name = Str(lj, "name", where);
    l.time_zone = Str(lj, "time_zone", where);
    try {
      TimeZone::Load(l.time_zone);
    } catch (const std::runtime_error& e) {
      throw ConfigError(where + ".time_zone: " + e.what());
    }
    l.phone_lines = Strings(Need(lj, "phone_lines", where), where + ".phone_lines");
    for (const auto& p : l.phone_lines)
      if (!lines.insert(p).second)
        throw ConfigError(where + ": phone line " + p + " belongs to two locations");
    for (const auto& bj : Need(lj, "bays", where)) {
      Bay b;
      OnlyKnown(bj, {"number", "device_id", "control"}, where + ".bays[]");
      if (!bj.contains("number") || !bj.at("number").is_number_integer())
        throw ConfigError(where + ".bays[]: number must be a whole number");
      b.number = bj.at("number").get<int>();
      b.device_id = Str(bj, "device_id", where + ".bays[" + std::to_string(b.number) + "]");
      b.control = bj.value("control", b.control);
      if (b.control != "ninjaone" && b.control != "agent")
        throw ConfigError(where + ".bays[" + std::to_string(b.number) +
                          "].control: must be \"ninjaone\" or \"agent\"");
      for (const auto& other : l.bays)
        if (other.number == b.number)
          throw ConfigError(where + ": bay " + std::to_string(b.number) + " appears twice");
      l.bays.push_back(b);
    }
    for (const auto& dj : Need(lj, "doors", where))
      OnlyKnown(dj, {"id", "name", "device_id"}, where + ".doors[]");
    for (const auto& dj : Need(lj, "doors", where))
      l.doors.push_back({Str(dj, "id", where + ".doors[]"), Str(dj, "name", where + ".doors[]"),
                         Str(dj, "device_id", where + ".doors[]")});
    c.locations.push_back(std::move(l));
  }
  if (c.locations.empty()) throw ConfigError("facility.locations: at least one location");

  const json flow = root.value("flow", json::object());
  OnlyKnown(flow,
            {"debounce_ms", "confirmation_ttl_ms", "verify_timeout_ms", "verify_poll_ms",
             "close_after_ms", "takeover_ms", "retry_base_ms", "retry_cap_ms", "rapid_messages",
             "suggestion_ttl_ms"},
            "flow");
  c.flow.debounce = Ms(flow, "debounce_ms", c.flow.debounce, "flow");
  c.flow.confirmation_ttl = Ms(flow, "confirmation_ttl_ms", c.flow.confirmation_ttl, "flow");
  c.flow.verify_timeout = Ms(flow, "verify_timeout_ms", c.flow.verify_timeout, "flow");
  c.flow.verify_poll = Ms(flow, "verify_poll_ms", c.flow.verify_poll, "flow");
  c.flow.close_after = Ms(flow, "close_after_ms", c.flow.close_after, "flow");
  c.flow.takeover = Ms(flow, "takeover_ms", c.flow.takeover, "flow");
  c.flow.retry_base = Ms(flow, "retry_base_ms", c.flow.retry_base, "flow");
  c.flow.retry_cap = Ms(flow, "retry_cap_ms", c.flow.retry_cap, "flow");
  c.flow.suggestion_ttl = Ms(flow, "suggestion_ttl_ms", c.flow.suggestion_ttl, "flow");
  if (flow.contains("rapid_messages")) {
    const auto& r = flow.at("rapid_messages");
    OnlyKnown(r, {"count", "window_ms"}, "flow.rapid_messages");
    c.flow.rapid_count = r.value("count", c.flow.rapid_count);
    c.flow.rapid_window = Ms(r, "window_ms", c.flow.rapid_window, "flow.rapid_messages");
  }

  const json policy = root.value("policy", json::object());
  if (!policy.is_object()) throw ConfigError("policy: must be an object");
  c.policy_json = policy.dump();

  const json router = Need(root, "router", "config");
  c.router.emergency = Strings(router.value("emergency", json::array()), "router.emergency");
  c.router.plea = Strings(router.value("plea", json::array()), "router.plea");
  c.router.read_past = Strings(router.value("read_past", json::array()), "router.read_past");
  c.router.human = Strings(router.value("human", json::array()), "router.human");
  c.router.positive = Strings(router.value("positive", json::array()), "router.positive");
  c.router.problem = Strings(router.value("problem", json::array()), "router.problem");
  c.router.not_helped = Strings(router.value("not_helped", json::array()), "router.not_helped");
  c.router.not_helped_window =
      Ms(router, "not_helped_window_ms", c.router.not_helped_window, "router");
  const json sensitive = router.value("sensitive", json::object());
  for (const auto& [topic, phrases] : sensitive.items())
    c.router.sensitive[topic] = Strings(phrases, "router.sensitive." + topic);
  for (const auto& [category, phrases] : Need(router, "categories", "router").items()) {
    for (const auto& [phrase, weight] : phrases.items()) {
      if (!weight.is_number())
        throw ConfigError("router.categories." + category + "." + phrase +
                          ": weight must be a number");
      c.router.categories[category][phrase] = weight.get<double>();
    }
  }
  const json actions = router.value("actions", json::object());
  for (const auto& [action, aj] : actions.items())
    c.router.actions[action] = {
        Str(aj, "category", "router.actions." + action),
        Strings(Need(aj, "any", "router.actions." + action), "router.actions." + action + ".any")};
  if (router.contains("faq"))
    throw ConfigError(
        "router.faq: FAQ answers live in the knowledge store now, as knowledge/faq.<topic>.md "
        "files (clubos sop import DIR; docs/knowledge.md)");
  const json in = root.value("integrations", json::object());
  auto str = [](const json& j, const char* key, std::string& into, const std::string& where) {
    if (!j.contains(key)) return;
    if (!j.at(key).is_string()) throw ConfigError(where + "." + key + ": must be a string");
    into = j.at(key).get<std::string>();
  };
  auto& i = c.integrations;
  OnlyKnown(in,
            {"openphone", "ninjaone", "unifi", "slack", "llm", "reviewer", "call_timeout_ms",
             "agent_command_ttl_ms", "verify_timeout_ms"},
            "integrations");
  const json op = in.value("openphone", json::object());
  OnlyKnown(op, {"base_url", "api_key_env", "user_id"}, "integrations.openphone");
  str(op, "base_url", i.openphone.base_url, "integrations.openphone");
  str(op, "api_key_env", i.openphone.api_key_env, "integrations.openphone");
  str(op, "user_id", i.openphone.user_id, "integrations.openphone");
  const json nj = in.value("ninjaone", json::object());
  OnlyKnown(nj,
            {"base_url", "token_path", "client_id_env", "client_secret_env", "trackman_script_id",
             "reboot_mode"},
            "integrations.ninjaone");
  str(nj, "base_url", i.ninjaone.base_url, "integrations.ninjaone");
  str(nj, "token_path", i.ninjaone.token_path, "integrations.ninjaone");
  str(nj, "client_id_env", i.ninjaone.client_id_env, "integrations.ninjaone");
  str(nj, "client_secret_env", i.ninjaone.client_secret_env, "integrations.ninjaone");
  str(nj, "reboot_mode", i.ninjaone.reboot_mode, "integrations.ninjaone");
  i.ninjaone.trackman_script_id = nj.value("trackman_script_id", 0);
  if (i.ninjaone.reboot_mode != "NORMAL" && i.ninjaone.reboot_mode != "FORCED")
    throw ConfigError("integrations.ninjaone.reboot_mode: must be NORMAL or FORCED");
  const json uj = in.value("unifi", json::object());
  OnlyKnown(uj, {"base_url", "token_env", "verify_tls"}, "integrations.unifi");
  str(uj, "base_url", i.unifi.base_url, "integrations.unifi");
  str(uj, "token_env", i.unifi.token_env, "integrations.unifi");
  i.unifi.verify_tls = uj.value("verify_tls", true);
  const json sj = in.value("slack", json::object());
  OnlyKnown(sj, {"webhook_url_env", "thread_link_base"}, "integrations.slack");
  str(sj, "webhook_url_env", i.slack.webhook_url_env, "integrations.slack");
  // integrations.slack.thread_link_base is the older name of console_url (undocumented then).
  for (const json* holder : {&sj, &root}) {
    const char* key = holder == &root ? "console_url" : "thread_link_base";
    if (!holder->contains(key)) continue;
    const auto& u = holder->at(key);
    if (!u.is_string() || (u.get<std::string>().rfind("http://", 0) != 0 &&
                           u.get<std::string>().rfind("https://", 0) != 0))
      throw ConfigError(std::string(key) + ": must be an http:// or https:// URL");
    c.console_url = u.get<std::string>();
    if (c.console_url.back() != '/') c.console_url += '/';
  }
  const json lj = in.value("llm", json::object());
  OnlyKnown(
      lj,
      {"base_url", "api_key_env", "cheap_model", "strong_model", "max_tokens", "call_timeout_ms",
       "deadline_ms", "cache_ttl_ms", "always_ask", "outage_probe_ms", "price_per_mtok"},
      "integrations.llm");
  ReadEndpoint(lj, i.llm, "integrations.llm");
  str(lj, "cheap_model", i.llm.cheap_model, "integrations.llm");
  i.llm.cache_ttl = Ms(lj, "cache_ttl_ms", i.llm.cache_ttl, "integrations.llm");
  i.llm.outage_probe = Ms(lj, "outage_probe_ms", i.llm.outage_probe, "integrations.llm");
  const json always_ask = lj.value("always_ask", json::array());
  if (!always_ask.is_array()) throw ConfigError("integrations.llm: always_ask must be a list");
  for (const auto& cat : always_ask) {
    if (!cat.is_string())
      throw ConfigError("integrations.llm.always_ask: must list category names");
    if (!c.router.categories.count(cat.get<std::string>()))
      throw ConfigError("integrations.llm.always_ask: " + cat.get<std::string>() +
                        " is not a router category");
    i.llm.always_ask.push_back(cat.get<std::string>());
  }
  // The reviewer: the same endpoint settings (its model is "model"), and its caps.
  const json rj = in.value("reviewer", json::object());
  const std::string rw = "integrations.reviewer";
  OnlyKnown(rj,
            {"base_url", "api_key_env", "model", "max_tokens", "call_timeout_ms", "deadline_ms",
             "price_per_mtok", "interval_ms", "daily_calls", "daily_tokens", "max_cases"},
            rw);
  auto& r = i.reviewer;
  r.endpoint.api_key_env = "CLUBOS_REVIEWER_API_KEY";
  r.endpoint.strong_model = "claude-sonnet-4-5";
  r.endpoint.max_tokens = 2'000;
  r.endpoint.call_timeout = Millis(30'000);
  r.endpoint.deadline = Millis(60'000);
  r.endpoint.price_per_mtok.clear();
  json endpoint = rj;
  endpoint.erase("model");
  if (rj.contains("model")) endpoint["strong_model"] = rj.at("model");
  ReadEndpoint(endpoint, r.endpoint, rw);
  r.interval = Ms(rj, "interval_ms", r.interval, rw);
  auto count = [&](const char* key, int64_t lo, int64_t hi, auto& into) {
    if (!rj.contains(key)) return;
    const auto& v = rj.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      throw ConfigError(rw + "." + key + ": must be a whole number from " + std::to_string(lo) +
                        " to " + std::to_string(hi));
    into = static_cast<std::remove_reference_t<decltype(into)>>(v.get<int64_t>());
  };
  count("daily_calls", 0, 10'000, r.daily_calls);
  count("daily_tokens", 0, 1'000'000'000, r.daily_tokens);
  count("max_cases", 1, 500, r.max_cases);
  const json kj = root.value("knowledge", json::object());
  OnlyKnown(kj, {"max_open_proposals", "replay_window_ms"}, "knowledge");
  if (kj.contains("max_open_proposals")) {
    const auto& v = kj.at("max_open_proposals");
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 20)
      throw ConfigError("knowledge.max_open_proposals: must be a whole number from 1 to 20");
    c.knowledge.max_open_proposals = v.get<int>();
  }
  c.knowledge.replay_window = Ms(kj, "replay_window_ms", c.knowledge.replay_window, "knowledge");
  i.call_timeout = Ms(in, "call_timeout_ms", i.call_timeout, "integrations");
  i.agent_command_ttl = Ms(in, "agent_command_ttl_ms", i.agent_command_ttl, "integrations");
  const json verify = in.value("verify_timeout_ms", json::object());
  for (const auto& [kind, v] : verify.items()) {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      throw ConfigError("integrations.verify_timeout_ms." + kind + ": must be a positive number");
    if (!FindActionKind(kind))
      throw ConfigError("integrations.verify_timeout_ms." + kind + ": not an action kind");
    i.verify_timeout[kind] = Millis(v.get<int64_t>());
  }
  return c;
}

Config Config::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return Parse(ss.str());
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

}  // namespace clubos
