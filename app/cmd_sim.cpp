// clubos sim: the facility simulator (sim/README.md) on 127.0.0.1, until SIGINT or SIGTERM.
#include <cstdio>
#include <map>
#include <random>

#include "app/cli.h"
#include "app/commands.h"
#include "core/config.h"
#include "core/log.h"
#include "http/http_server.h"
#include "sim/facility_sim.h"
#include "workflows/agent.h"

namespace clubos::app {

int CmdSim(const Args& args) {
  Flags f(args,
          {"--port", "--config", "--clubos-url", "--reset-delay-ms", "--unlock-seconds",
           "--sms-delivery-ms", "--threads", "--agent-poll-ms", "--llm-latency-ms"},
          {"--help"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos sim [--port 9090] [--config clubos.json] [--clubos-url "
        "http://127.0.0.1:8080]\n"
        "                  [--reset-delay-ms 1500] [--unlock-seconds 5] [--sms-delivery-ms 200]\n"
        "                  [--threads 4] [--agent-poll-ms 1000] [--llm-latency-ms 0]\n"
        "  local stand-ins for OpenPhone, NinjaOne, UniFi Access, Slack and an OpenAI-compatible\n"
        "  LLM (POST /v1/chat/completions, a deterministic rule-based model) on 127.0.0.1, in\n"
        "  their real paths and formats, with fault injection and a control API under /_sim/\n"
        "  (sim/README.md). Devices and doors come from the config. --port 0 picks a free port;\n"
        "  the port is printed as 'clubos sim listening on 127.0.0.1:<port>'.\n"
        "  --llm-latency-ms: every completion waits this long (0-60000; PUT /_sim/llm changes "
        "it).\n"
        "  secrets (unset: that vendor answers 401): CLUBOS_OPENPHONE_API_KEY,\n"
        "  CLUBOS_NINJAONE_CLIENT_ID, CLUBOS_NINJAONE_CLIENT_SECRET, CLUBOS_UNIFI_TOKEN,\n"
        "  CLUBOS_OPENPHONE_SIGNING_SECRET, CLUBOS_OPENPHONE_WEBHOOK_KEY, CLUBOS_LLM_API_KEY;\n"
        "  CLUBOS_AGENT_KEYS=device:key,...: bays with control \"agent\" run a simulated bay\n"
        "  agent that polls --clubos-url every --agent-poll-ms with its key.");
    return 0;
  }
  if (!f.positional().empty()) throw UsageError("unexpected argument '" + f.positional()[0] + "'");
  const auto port = static_cast<uint16_t>(f.Int("--port", 9090, 0, 65535));
  const Config config = Config::Load(f.Str("--config", "clubos.json"));
  sim::SimOptions options;
  options.clubos_url = f.Str("--clubos-url", options.clubos_url);
  options.reset_delay = Millis(f.Int("--reset-delay-ms", 1'500, 0, 3'600'000));
  options.unlock_duration = Millis(f.Int("--unlock-seconds", 5, 1, 3'600) * 1'000);
  options.sms_delivery_delay = Millis(f.Int("--sms-delivery-ms", 200, 0, 3'600'000));
  options.llm_latency = Millis(f.Int("--llm-latency-ms", 0, 0, sim::kMaxLlmLatencyMs));
  options.seed = std::random_device{}();
  const int threads = static_cast<int>(f.Int("--threads", 4, 1, 64));
  const Millis agent_poll(f.Int("--agent-poll-ms", 1'000, 50, 600'000));

  std::map<std::string, std::string> agent_keys;
  try {
    agent_keys = workflows::AgentProtocol::KeysFromEnv();
  } catch (const workflows::AgentKeyError& e) {
    throw UsageError(std::string("CLUBOS_AGENT_KEYS: ") + e.what());
  }
  sim::FacilitySim facility(config, sim::SimSecrets::FromEnv(config), options,
                            SystemClock::Instance());
  // Plain HTTP on loopback only: the sim never terminates TLS (clients talk to it with
  // verify_tls off or plain http base URLs).
  http::Server server(http::ServerOptions{.host = "127.0.0.1", .port = port, .threads = threads});
  facility.Register(server);
  BlockStopSignals();
  server.Start();
  facility.StartAgents(agent_keys, agent_poll);
  for (const auto& note : facility.StartupNotes()) log::Get()->info("sim: {}", note);
  std::printf("clubos sim listening on 127.0.0.1:%u\n", static_cast<unsigned>(server.Port()));
  std::fflush(stdout);
  const int sig = WaitForStopSignal();
  log::Get()->info("sim: signal {}, stopping", sig);
  facility.StopAgents();
  server.Stop();
  return 0;
}

}  // namespace clubos::app
