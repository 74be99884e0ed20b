// Stand-ins for domain functions declared in workflows/ and implemented on another branch (main):
// performAction and the rollback flag (workflows/flow.h), and the bay agent protocol
// (workflows/agent.h). api/CMakeLists.txt compiles each part only while no workflows/*.cpp
// defines the real thing, so merging main drops them by itself. Each answers 501 through the API.
#include <string>

#include "api/errors.h"
#include "workflows/agent.h"
#include "workflows/flow.h"

namespace clubos::workflows {

#ifdef CLUBOS_STUB_PERFORM
int64_t Flow::Perform(store::Connection&, const ActionRequest&) {
  throw api::NotImplementedYet("performAction is not in this build yet");
}

void Flow::FlagRollback(store::Connection&, int64_t, const std::string&, const std::string&) {
  throw api::NotImplementedYet("flagging a rollback is not in this build yet");
}
#endif

#ifdef CLUBOS_STUB_AGENT
AgentProtocol::AgentProtocol(std::map<std::string, std::string> keys, const Clock& clock)
    : keys_(std::move(keys)), clock_(clock) {}

std::map<std::string, std::string> AgentProtocol::KeysFromEnv() {
  return {};
}

std::string AgentProtocol::Authenticate(const std::string&) const {
  throw api::NotImplementedYet("the bay agent protocol is not in this build yet");
}

std::optional<AgentCommand> AgentProtocol::Poll(store::Connection&, const std::string&, Millis) {
  throw api::NotImplementedYet("the bay agent protocol is not in this build yet");
}

void AgentProtocol::Heartbeat(store::Connection&, const std::string&, const AgentHeartbeat&) {
  throw api::NotImplementedYet("the bay agent protocol is not in this build yet");
}

bool AgentProtocol::Report(store::Connection&, const std::string&, int64_t, bool,
                           const std::string&) {
  throw api::NotImplementedYet("the bay agent protocol is not in this build yet");
}
#endif

}  // namespace clubos::workflows
