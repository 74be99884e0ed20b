#pragma once
#include <string>
#include <vector>

#include "workers/job.h"

namespace clubos::app {

using Args = std::vector<std::string>;

int CmdMigrate(const Args& args);
int CmdWorker(const Args& args);
int CmdServe(const Args& args);
int CmdBench(const Args& args);
int CmdDemo(const Args& args);
int CmdStatemachine(const Args& args);
// The customer-flow part of the demo (app/demo_flow.cpp).
int DemoFlow(const std::string& url, const std::string& config_path);

// CLUBOS_DATABASE_URL, or a UsageError naming it.
std::string DatabaseUrl();
// The job kinds every ClubOS worker runs.
void RegisterBuiltinKinds(workers::Registry& registry);
// Blocks SIGINT/SIGTERM in this and every later thread, so sigwait() can take them.
void BlockStopSignals();
int WaitForStopSignal();

}  // namespace clubos::app
