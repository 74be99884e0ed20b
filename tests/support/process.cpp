#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace clubos::pgtest {

namespace {

pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const posix_spawn_file_actions_t* actions) {
  std::vector<std::string> argv_s = {"clubos"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = env;
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, CLUBOS_BIN_PATH, actions, nullptr, argv.data(), envp.data()) != 0)
    return -1;
  return pid;
}

}  // namespace

pid_t SpawnClubos(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  return Spawn(args, env, nullptr);
}

pid_t SpawnClubosWithStdout(const std::vector<std::string>& args,
                            const std::vector<std::string>& env, int* stdout_fd) {
  int fds[2];
  // Close-on-exec, so no other child spawned meanwhile holds the pipe open; dup2 clears the flag
  // on the child's stdout.
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  const pid_t pid = Spawn(args, env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return -1;
  }
  *stdout_fd = fds[0];
  return pid;
}

pid_t SpawnClubosLogged(const std::vector<std::string>& args, const std::vector<std::string>& env,
                        const std::string& log_path, int* stdout_fd) {
  int fds[2] = {-1, -1};
  if (stdout_fd && ::pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (stdout_fd)
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  else
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  const pid_t pid = Spawn(args, env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  if (stdout_fd) {
    ::close(fds[1]);
    if (pid < 0)
      ::close(fds[0]);
    else
      *stdout_fd = fds[0];
  }
  return pid;
}

RunResult RunClubos(const std::vector<std::string>& args, const std::vector<std::string>& env,
                    const std::string& input) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  const pid_t pid = Spawn(args, env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  for (int fd : {in[0], out[1], err[1]}) ::close(fd);
  RunResult r;
  if (pid < 0) {
    for (int fd : {in[1], out[0], err[0]}) ::close(fd);
    return r;
  }
  // The input is small (a password): it fits the pipe's buffer, so writing it all first cannot
  // wait on a child that is itself waiting for its output to be read. A child that exited without
  // reading it makes the write fail (EPIPE) instead of killing the test with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (!input.empty() && ::write(in[1], input.data(), input.size()) < 0) r.err = "(write failed)";
  ::close(in[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const auto n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  r.exit_code = WaitExit(pid);
  return r;
}

uint16_t ReadServePort(int fd) {
  const std::string line = ReadLine(fd, Millis(30'000)).value_or("");
  std::smatch m;
  if (!std::regex_match(line, m, std::regex(R"(clubos serve listening on 127\.0\.0\.1:(\d+))")))
    return 0;
  return static_cast<uint16_t>(std::stoi(m[1]));
}

std::optional<std::string> ReadLine(int fd, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char c = 0;
    if (::read(fd, &c, 1) != 1) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
}

int WaitExit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::optional<Millis> CpuTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. utime and stime are fields 14 and 15, the 12th and 13th after comm.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  long long utime = -1, stime = -1;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i == 12) utime = std::stoll(field);
    if (i == 13) stime = std::stoll(field);
  }
  const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  if (utime < 0 || stime < 0 || ticks_per_s <= 0) return std::nullopt;
  return Millis((utime + stime) * 1000 / ticks_per_s);
}

bool WaitFor(const std::function<bool()>& pred, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

int FreePort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

}  // namespace clubos::pgtest
