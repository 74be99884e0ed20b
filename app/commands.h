#pragma once
#include <memory>
#include <string>
#include <vector>

#include "workers/job.h"

namespace clubos::store {
class Connection;
}

namespace clubos::app {

using Args = std::vector<std::string>;

int CmdMigrate(const Args& args);
int CmdWorker(const Args& args);
int CmdServe(const Args& args);
int CmdBench(const Args& args);
int CmdDemo(const Args& args);
int CmdStatemachine(const Args& args);
int CmdPolicy(const Args& args);
// Cases as JSON lines (app/cmd_feedback.cpp, docs/cases.md).
int CmdFeedback(const Args& args);
// Operator accounts (app/cmd_user.cpp, api/accounts.h).
int CmdUser(const Args& args);
// The facility simulator (app/cmd_sim.cpp, sim/).
int CmdSim(const Args& args);
// The seeded deterministic simulation of the whole flow (app/cmd_simulate.cpp, simulation/).
int CmdSimulate(const Args& args);
// The knowledge store and a folder of markdown files (app/cmd_sop.cpp, docs/knowledge.md).
int CmdSop(const Args& args);
// Where the demo's processes listen (scripts/demo starts them) and the tokens it uses.
struct DemoEndpoints {
  std::string api;  // http://127.0.0.1:<port> of `clubos serve`
  std::string sim;  // http://127.0.0.1:<port> of `clubos sim`
  std::string service_token;
  std::string operator_token;
  std::string second_operator_token;  // another person: approves what the first proposed
};
// The customer-flow part of the demo (app/demo_flow.cpp).
int DemoFlow(const std::string& url, const DemoEndpoints& ends);

// CLUBOS_DATABASE_URL (a UsageError when unset), declared transaction-pooled when
// CLUBOS_DATABASE_POOLING says so.
std::string DatabaseUrl();
// The job kinds every ClubOS worker runs.
void RegisterBuiltinKinds(workers::Registry& registry);
// Blocks SIGINT/SIGTERM in this and every later thread, so sigwait() can take them.
void BlockStopSignals();
int WaitForStopSignal();
// Connects and checks that the schema is current, waiting while the database cannot be reached
// (down, starting up, a failover under way): retries with backoff from 0.5 s doubling to 30 s,
// saying so in the log each time. A schema that is not current throws store::SchemaError at once.
// A `url` through a pooler in transaction mode (store::BehindTransactionPooler) is declared so
// (store::DeclareTransactionPooled) before anything connects to it; a `listen_url` through one is
// an error. nullptr when SIGTERM or SIGINT arrived while waiting; stop signals must be blocked
// (BlockStopSignals) before the call.
std::unique_ptr<store::Connection> ConnectWhenReachable(const std::string& url,
                                                        const std::string& listen_url = "");
// CLUBOS_DATABASE_POOLING: how CLUBOS_DATABASE_URL is pooled. "auto" (unset): asked at start
// (store::BehindTransactionPooler); "transaction": declared, not asked; "session": a direct
// connection or a pool in session mode, not asked. Anything else is a UsageError.
std::string DeclaredPooling();
// CLUBOS_LISTEN_DATABASE_URL: where to LISTEN when CLUBOS_DATABASE_URL cannot carry it; "" unset.
std::string ListenDatabaseUrl();

}  // namespace clubos::app
