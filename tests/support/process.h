#pragma once
// Helpers for tests that drive real processes and wait for the database to show an outcome.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos::pgtest {

// Starts the clubos binary built with the tests (`clubos ARGS...`) with exactly `env`; -1 on
// failure.
pid_t SpawnClubos(const std::vector<std::string>& args, const std::vector<std::string>& env);
// The same, with the child's stdout on a pipe whose read end is stored in `*stdout_fd` (the caller
// closes it).
pid_t SpawnClubosWithStdout(const std::vector<std::string>& args,
                            const std::vector<std::string>& env, int* stdout_fd);
// The same, with the child's stderr (its logs) appended to the file `log_path`; with a null
// `stdout_fd` its stdout goes there too.
pid_t SpawnClubosLogged(const std::vector<std::string>& args, const std::vector<std::string>& env,
                        const std::string& log_path, int* stdout_fd = nullptr);
// What a finished `clubos` said: its exit code (as WaitExit), its stdout and its stderr.
struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs `clubos ARGS...` with exactly `env` and `input` on its stdin (then closed), to its end.
RunResult RunClubos(const std::vector<std::string>& args, const std::vector<std::string>& env,
                    const std::string& input);
// Reads from `fd` up to and without the next newline; nullopt when `timeout` passes or the pipe
// closes first.
std::optional<std::string> ReadLine(int fd, Millis timeout);
// The port `clubos serve --port 0` says it listens on, its first line on stdout ("clubos serve
// listening on 127.0.0.1:PORT"), read from `fd`; 0 when it says something else or nothing within
// 30 s.
uint16_t ReadServePort(int fd);
// Waits for the process and returns its exit code, or 128 + the signal that ended it.
int WaitExit(pid_t pid);
// The CPU time the process has used so far, user plus system (utime + stime of /proc/PID/stat,
// at the kernel's clock-tick resolution, 10 ms here); nullopt when it cannot be read. CPU time,
// not wall time: what a spinning thread costs whatever else the machine runs.
std::optional<Millis> CpuTime(pid_t pid);
// A loopback port nobody listens on now (the kernel's pick for a socket bound to port 0); 0 when
// none could be had. Someone else may take it before the caller binds: retry on failure.
int FreePort();
// Polls `pred` every 10 ms until it holds or `timeout` passes; returns its last answer.
bool WaitFor(const std::function<bool()>& pred, Millis timeout = Millis(15'000));

}  // namespace clubos::pgtest
