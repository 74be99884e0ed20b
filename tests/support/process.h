#pragma once
// Helpers for tests that drive real processes and wait for the database to show an outcome.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace clubos::pgtest {

// Starts the clubos binary built with the tests (`clubos ARGS...`) with exactly `env`; -1 on
// failure.
pid_t SpawnClubos(const std::vector<std::string>& args, const std::vector<std::string>& env);
// As SpawnClubos, with the child's stdout readable from *stdout_fd (close it when done).
pid_t SpawnClubosPiped(const std::vector<std::string>& args, const std::vector<std::string>& env,
                       int* stdout_fd);
// The next line the fd delivers within `timeout` (without its newline), or "" at EOF / timeout.
std::string ReadLine(int fd, Millis timeout);
// Waits for the process and returns its exit code, or 128 + the signal that ended it.
int WaitExit(pid_t pid);
// Polls `pred` every 10 ms until it holds or `timeout` passes; returns its last answer.
bool WaitFor(const std::function<bool()>& pred, Millis timeout = Millis(15'000));

}  // namespace clubos::pgtest
