// `clubos user add|list|disable|enable|reset-password`: operator accounts (api/accounts.h). A
// password comes from stdin, never from the command line (where `ps` and the shell's history
// would show it): typed twice without echo at a terminal, else the first line of stdin.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "api/accounts.h"
#include "app/cli.h"
#include "app/commands.h"
#include "core/time_format.h"
#include "store/db.h"
#include "workflows/errors.h"

namespace clubos::app {
namespace {

constexpr const char* kUsage =
    "usage: clubos user add NAME --role operator|admin\n"
    "       clubos user list\n"
    "       clubos user disable NAME      (also ends every session of the user)\n"
    "       clubos user enable NAME\n"
    "       clubos user reset-password NAME  (also ends every session of the user)\n"
    "  every command takes [--database-url URL] (default: CLUBOS_DATABASE_URL).\n"
    "  add and reset-password read the password from stdin: at a terminal it is asked twice,\n"
    "  without echo; otherwise the first line of stdin is the password. 10 to 256 bytes.\n"
    "  a name has 1 to 32 characters of a-z, 0-9, '.', '_', '-' and starts with a-z or 0-9.";

// One line from stdin without its line ending; nullopt at end of input before any character.
std::optional<std::string> ReadLine() {
  std::string line;
  if (!std::getline(std::cin, line) && line.empty()) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Echo off on the terminal for as long as it lives (restored on every way out, exceptions too).
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0)
      throw std::runtime_error("cannot read the terminal");
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
      throw std::runtime_error("cannot turn the terminal's echo off");
  }
  ~NoEcho() { ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_); }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  termios saved_{};
};

std::string ReadPassword(const std::string& name) {
  if (!::isatty(STDIN_FILENO)) {
    auto line = ReadLine();
    if (!line) throw UsageError("no password on stdin (its first line is the password)");
    return *line;
  }
  NoEcho quiet;
  std::fprintf(stderr, "password for %s: ", name.c_str());
  std::fflush(stderr);
  const auto first = ReadLine();
  std::fputs("again: ", stderr);
  std::fflush(stderr);
  const auto second = ReadLine();
  if (!first || !second) throw UsageError("no password typed");
  if (*first != *second) throw UsageError("the two passwords differ; nothing changed");
  return *first;
}

// NAME, the one positional argument after the subcommand.
std::string NameOf(const Flags& f, const char* command) {
  if (f.positional().size() != 1)
    throw UsageError(std::string("user ") + command + " takes one NAME (see clubos user --help)");
  return f.positional()[0];
}

std::unique_ptr<store::Connection> Open(const Flags& f) {
  return store::Connect(f.Has("--database-url") ? f.Str("--database-url", "") : DatabaseUrl());
}

std::string Day(const std::optional<TimePoint>& t) {
  return t ? FormatTimestamp(*t).substr(0, 16) : "never";
}

int List(const Flags& f) {
  if (!f.positional().empty()) throw UsageError("user list takes no arguments");
  auto db = Open(f);
  api::Accounts accounts(SystemClock::Instance());
  const auto users = accounts.List(*db);
  std::printf("%-32s  %-8s  %-8s  %-16s  %s\n", "NAME", "ROLE", "DISABLED", "CREATED",
              "LAST LOGIN");
  for (const auto& u : users)
    std::printf("%-32s  %-8s  %-8s  %-16s  %s\n", u.name.c_str(), api::ToString(u.role),
                u.disabled ? "yes" : "no", Day(u.created_at).c_str(), Day(u.last_login_at).c_str());
  return 0;
}

}  // namespace

int CmdUser(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::puts(kUsage);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  const Args rest(args.begin() + 1, args.end());
  Flags f(rest, {"--role", "--database-url"}, {"--help"});
  if (f.Has("--help")) {
    std::puts(kUsage);
    return 0;
  }
  if (command != "add" && f.Has("--role")) throw UsageError("--role is for user add only");
  if (command == "list") return List(f);
  if (command != "add" && command != "disable" && command != "enable" &&
      command != "reset-password")
    throw UsageError("unknown user command '" + command +
                     "' (add, list, disable, enable, reset-password)");
  const std::string name = NameOf(f, command.c_str());
  api::Role role = api::Role::kOperator;
  if (command == "add") {
    if (!f.Has("--role")) throw UsageError("user add needs --role operator|admin");
    try {
      api::CheckUserName(name);
      role = api::AccountRole(f.Str("--role", ""));
    } catch (const workflows::InvalidInput& e) {
      throw UsageError(e.what());
    }
  }
  // Connect, and find the user a password is reset for, before asking for a password: a wrong URL
  // or name is told before anyone types.
  auto db = Open(f);
  api::Accounts accounts(SystemClock::Instance());
  if (command == "reset-password") {
    const auto users = accounts.List(*db);
    if (std::none_of(users.begin(), users.end(),
                     [&](const api::User& u) { return u.name == name; }))
      throw workflows::NotFound("no user named '" + name + "'");
  }
  if (command == "add") {
    accounts.Add(*db, name, role, ReadPassword(name));
    std::printf("added %s (%s)\n", name.c_str(), api::ToString(role));
  } else if (command == "reset-password") {
    accounts.ResetPassword(*db, name, ReadPassword(name));
    std::printf("password of %s reset; every session of %s ended\n", name.c_str(), name.c_str());
  } else if (command == "disable") {
    accounts.Disable(*db, name);
    std::printf("disabled %s; every session of %s ended\n", name.c_str(), name.c_str());
  } else {
    accounts.Enable(*db, name);
    std::printf("enabled %s\n", name.c_str());
  }
  return 0;
}

}  // namespace clubos::app
