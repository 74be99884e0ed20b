#pragma once
// The facility and its behaviour, from a JSON file (`--config`, default clubos.json; the repo ships
// config/clubos.example.json). Secrets never live here: they come from the environment.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos {

class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Bay {
  int number = 0;
  std::string device_id;  // the bay PC in NinjaOne
};

struct Door {
  std::string id;
  std::string name;
  std::string device_id;  // the door in UniFi Access
};

struct Location {
  std::string id;
  std::string name;
  std::string time_zone;
  std::vector<std::string> phone_lines;  // inbound numbers that belong to this location
  std::vector<Bay> bays;
  std::vector<Door> doors;
  const Bay* FindBay(int number) const;
};

struct FlowSettings {
  Millis debounce{3'000};  // routing waits this long after the latest message
  Millis confirmation_ttl{300'000};
  Millis verify_timeout{180'000};
  Millis verify_poll{2'000};
  Millis close_after{1'800'000};  // a verified thread closes after this quiet period
  Millis retry_base{500};         // first retry of a failed flow job; doubles up to retry_cap
  Millis retry_cap{60'000};
  int rapid_count = 3;          // this many customer messages ...
  Millis rapid_window{60'000};  // ... within this window escalate
};

struct CategoryPolicy {
  bool autonomy = false;
  double confidence_threshold = 1.0;
  bool confirmation_required = false;
};

struct ActionPattern {
  std::string category;
  std::vector<std::string> any;  // at least one must match
};

struct FaqEntry {
  std::vector<std::string> match;
  std::string answer;
};

struct RouterConfig {
  std::vector<std::string> emergency;
  std::map<std::string, std::vector<std::string>> sensitive;  // topic -> phrases
  std::vector<std::string> human;
  std::map<std::string, std::map<std::string, double>> categories;  // category -> phrase -> weight
  std::vector<std::string> positive;
  std::vector<std::string> problem;  // a fault is reported: "thanks, but it froze again" still acts
  std::map<std::string, ActionPattern> actions;
  std::map<std::string, FaqEntry> faq;
};

struct Config {
  std::string facility_name;
  std::vector<Location> locations;
  FlowSettings flow;
  std::map<std::string, CategoryPolicy> policy;
  RouterConfig router;

  const Location* LocationForLine(const std::string& phone_line) const;
  const Location* FindLocation(const std::string& id) const;

  // Throws ConfigError naming the offending field.
  static Config Parse(const std::string& json_text);
  static Config Load(const std::string& path);
};

}  // namespace clubos
