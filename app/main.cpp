// clubos: one binary, subcommands. Exit 0 on success, 2 on bad usage, 1 on failure, with a
// one-line reason on stderr.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "app/cli.h"
#include "app/commands.h"
#include "core/log.h"
#include "store/migrator.h"

namespace {

constexpr const char* kUsage = R"(clubos - operations engine for unstaffed golf-simulator facilities

usage: clubos <command> [flags]

commands:
  migrate                        apply schema/ migrations (safe from several machines at once)
  serve                          the HTTP API (--workers N: with queue workers in-process)
  worker                         run a queue worker; start as many as the load needs
  bench queue|flow|router        benchmarks: the queue (drain, idle wake-up latency), the flow,
                                 OperatorGPT's share of texts, its latency and its cost to the flow
  demo                           the morning scenario against `serve` and `sim` (scripts/demo)
  sim                            the facility simulator: OpenPhone, NinjaOne, UniFi Access and
                                 Slack on 127.0.0.1, with fault injection (no database)
  simulate --seed N | --seeds N  the seeded deterministic simulation of the whole flow, with
                                 faults, crashes and invariants checked after every step
  policy replay --proposal ID    what a proposed autonomy profile would have decided differently
  sop import|export DIR           the knowledge store (SOPs, FAQ answers) from and to a folder
                                 of markdown files; an import deactivates nothing
  feedback export --since 7d     the cases (unhelpful answers, failed actions) as JSON lines
  user add|list|disable|enable|reset-password
                                 operator accounts: `user add NAME --role operator|admin`
                                 reads the password from stdin (asked twice at a terminal)
  statemachine dot thread|action|job
                                 a state machine's transition table as a Graphviz diagram

environment:
  CLUBOS_DATABASE_URL            libpq URI, e.g. postgresql://user@host:5432/clubos
  CLUBOS_LOG_LEVEL               trace|debug|info|warn|error (default info)

`clubos <command> --help` describes each command's flags.
)";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  clubos::log::Init("clubos");
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  const clubos::app::Args args(argv + 2, argv + argc);
  try {
    if (cmd == "migrate") return clubos::app::CmdMigrate(args);
    if (cmd == "serve") return clubos::app::CmdServe(args);
    if (cmd == "worker") return clubos::app::CmdWorker(args);
    if (cmd == "bench") return clubos::app::CmdBench(args);
    if (cmd == "demo") return clubos::app::CmdDemo(args);
    if (cmd == "statemachine") return clubos::app::CmdStatemachine(args);
    if (cmd == "policy") return clubos::app::CmdPolicy(args);
    if (cmd == "feedback") return clubos::app::CmdFeedback(args);
    if (cmd == "user") return clubos::app::CmdUser(args);
    if (cmd == "sop") return clubos::app::CmdSop(args);
    if (cmd == "sim") return clubos::app::CmdSim(args);
    if (cmd == "simulate") return clubos::app::CmdSimulate(args);
    std::fprintf(stderr, "clubos: unknown command '%s' (see clubos --help)\n", cmd.c_str());
    return 2;
  } catch (const clubos::app::UsageError& e) {
    std::fprintf(stderr, "clubos %s: %s\n", cmd.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clubos %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
