// `clubos policy replay --proposal ID --since 7d`: the decision function with a proposed profile,
// over the decisions stored since then (same intents, same facts), before anyone approves it.
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/commands.h"
#include "core/config.h"
#include "core/time_format.h"
#include "store/db.h"
#include "workflows/policy_store.h"

namespace clubos::app {

namespace {

int Replay(const Args& args) {
  Flags f(args, {"--proposal", "--since", "--config"}, {"--json", "--help"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos policy replay --proposal ID [--since 7d] [--config clubos.json] [--json]\n"
        "  re-runs the decision of every message routed since then with the profile of policy\n"
        "  version ID (a proposal, or any earlier version) and prints how many decisions would\n"
        "  change, and which. Reads only.");
    return 0;
  }
  if (!f.Has("--proposal")) throw UsageError("--proposal ID is required");
  const int64_t version = f.Int("--proposal", 0, 1, std::numeric_limits<int64_t>::max());
  const auto since = ParseSince(f.Str("--since", "7d"));
  const Config config = Config::Load(f.Str("--config", "clubos.json"));
  auto db = store::Connect(DatabaseUrl());
  workflows::PolicyStore store(config, SystemClock::Instance());
  const auto report = store.Replay(*db, version, SystemClock::Instance().Now() - since);
  if (f.Has("--json")) {
    nlohmann::json changed = nlohmann::json::array();
    for (const auto& c : report.changed)
      changed.push_back({{"thread_id", c.thread_id},
                         {"decided_at", FormatTimestamp(c.decided_at)},
                         {"before", c.before},
                         {"after", c.after},
                         {"reasons", c.reasons_after}});
    std::printf("%s\n", nlohmann::json{{"proposal", version},
                                       {"replayed", report.replayed},
                                       {"changed", changed.size()},
                                       {"decisions", changed}}
                            .dump()
                            .c_str());
    return 0;
  }
  std::printf("policy version %lld over %lld decisions since %s: %zu would change\n",
              static_cast<long long>(version), static_cast<long long>(report.replayed),
              FormatTimestamp(SystemClock::Instance().Now() - since).c_str(),
              report.changed.size());
  for (const auto& c : report.changed) {
    std::printf("  thread %lld at %s: %s -> %s\n", static_cast<long long>(c.thread_id),
                FormatTimestamp(c.decided_at).substr(0, 19).c_str(), c.before.c_str(),
                c.after.c_str());
    if (!c.reasons_after.empty()) std::printf("      because %s\n", c.reasons_after.back().c_str());
  }
  return 0;
}

}  // namespace

int CmdPolicy(const Args& args) {
  if (args.empty() || args[0] == "--help") {
    std::puts("usage: clubos policy replay --proposal ID [--since 7d] [--json]");
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "replay") return Replay(Args(args.begin() + 1, args.end()));
  throw UsageError("unknown policy command '" + args[0] + "' (replay)");
}

}  // namespace clubos::app
