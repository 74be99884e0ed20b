#include "tests/support/pg_pair.h"
#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "store/db.h"

extern char** environ;

namespace clubos::pgtest {
namespace fs = std::filesystem;

namespace {

constexpr int kStartAttempts = 5;  // a free port may be taken by someone else before the bind

// Alive and not a zombie waiting for a parent that is not us.
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

// The processes whose parent is `parent` (from /proc).
std::vector<pid_t> Children(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string Tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

bool LogSays(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().find(what) != std::string::npos;
}

}  // namespace

std::string PgBinDir() {
  if (const char* b = std::getenv("PG_BIN"); b && *b) return b;
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(e.path() / "bin" / "initdb")) found.push_back(e.path() / "bin");
  if (found.empty()) return "";
  // Version folders are numbers: the newest is the longest, then the largest.
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return found.back();
}

PgPair::PgPair(const std::string& name) : bin_(PgBinDir()) {
  std::string tmpl = "/tmp/clubos-" + name + ".XXXXXX";
  if (::mkdtemp(tmpl.data())) root_ = tmpl;
  as_postgres_ = ::geteuid() == 0;
  primary_ = {"primary", root_ + "/primary", root_ + "/primary.log"};
  standby_ = {"standby", root_ + "/standby", root_ + "/standby.log"};
}

PgPair::~PgPair() {
  for (Cluster* c : {&standby_, &primary_}) StopCluster(*c);
  if (!root_.empty()) {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
}

std::string PgPair::Run(const std::vector<std::string>& argv_in, const std::string& log,
                        std::chrono::seconds timeout) const {
  std::vector<std::string> argv_s;
  // initdb refuses root: the servers are the postgres user's then.
  if (as_postgres_) argv_s = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  argv_s.insert(argv_s.end(), argv_in.begin(), argv_in.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // From /, so that the postgres user is never left in a folder it cannot read (/root).
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return "could not start " + argv_s[0];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return argv_in[0] + " took longer than " + std::to_string(timeout.count()) + " s";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return argv_in[0] + " failed; " + log + " says:\n" + Tail(log, 15);
}

std::string PgPair::StartCluster(Cluster& c) {
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    c.port = FreePort();
    if (c.port == 0) return "no free port";
    const std::string err =
        Run({bin_ + "/pg_ctl", "-D", c.data, "-l", c.log, "-w", "-t", "30", "start", "-o",
             "-p " + std::to_string(c.port) + " -k " + root_ + "/sock"},
            root_ + "/pg_ctl.log", std::chrono::seconds(40));
    if (err.empty()) {
      std::ifstream pidfile(c.data + "/postmaster.pid");
      pidfile >> c.postmaster;
      return "";
    }
    // Someone took the port between our look and the server's bind: try another.
    if (!LogSays(c.log, "could not bind") && !LogSays(c.log, "already in use"))
      return err + "\n" + c.log + " says:\n" + Tail(c.log, 15);
  }
  return c.name + " found no port to bind in " + std::to_string(kStartAttempts) + " attempts";
}

void PgPair::StopCluster(Cluster& c) {
  if (c.postmaster <= 0) return;
  if (Alive(c.postmaster))
    Run({bin_ + "/pg_ctl", "-D", c.data, "-m", "immediate", "-w", "-t", "10", "stop"},
        root_ + "/pg_ctl.log", std::chrono::seconds(15));
  // Whatever is left (pg_ctl failed, or an orphaned backend): the server's process group.
  if (Alive(c.postmaster)) ::kill(-c.postmaster, SIGKILL);
  for (pid_t child : Children(c.postmaster)) ::kill(child, SIGKILL);
  c.postmaster = 0;
}

std::string PgPair::Start(const std::string& database) {
  db_ = database;
  if (root_.empty()) return "could not create a folder under /tmp";
  if (bin_.empty()) return "no PostgreSQL server binaries (apt-get install postgresql)";
  if (as_postgres_) {
    if (!::getpwnam("postgres") &&
        std::system("useradd --system --no-create-home --shell /usr/sbin/nologin postgres") != 0)
      return "running as root, and the postgres user is missing and could not be added";
    const passwd* pg = ::getpwnam("postgres");
    if (!pg || ::chown(root_.c_str(), pg->pw_uid, pg->pw_gid) != 0)
      return "could not give " + root_ + " to the postgres user";
  }
  fs::create_directories(root_ + "/sock");
  if (as_postgres_) {
    const passwd* pg = ::getpwnam("postgres");
    if (::chown((root_ + "/sock").c_str(), pg->pw_uid, pg->pw_gid) != 0)
      return "could not give the socket folder to the postgres user";
  }
  ::chmod(root_.c_str(), 0755);

  std::string err = Run({bin_ + "/initdb", "-D", primary_.data, "-U", "postgres", "--auth=trust",
                         "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions", "-N"},
                        root_ + "/initdb.log", std::chrono::seconds(60));
  if (!err.empty()) return err;
  {
    // The standby's base backup copies these. initdb's pg_hba.conf already trusts replication
    // connections from 127.0.0.1.
    std::ofstream conf(primary_.data + "/postgresql.conf", std::ios::app);
    conf << "\n# clubos failover test\n"
            "listen_addresses = '127.0.0.1'\n"
            "fsync = off\n"
            "full_page_writes = off\n"
            "synchronous_commit = on\n"
            "wal_level = replica\n"
            "max_wal_senders = 5\n"
            "hot_standby = on\n"
            "max_connections = 200\n"
            "shared_buffers = 32MB\n";
  }
  if (err = StartCluster(primary_); !err.empty()) return err;
  err = Run({bin_ + "/pg_basebackup", "-d",
             "host=127.0.0.1 port=" + std::to_string(primary_.port) +
                 " user=postgres application_name=clubos_standby",
             "-D", standby_.data, "-R", "-X", "stream", "-c", "fast"},
            root_ + "/basebackup.log", std::chrono::seconds(60));
  if (!err.empty()) return err;
  if (err = StartCluster(standby_); !err.empty()) return err;

  try {
    auto admin = store::Connect(PrimaryUrl("postgres"));
    // Set after the base backup, so the standby never has it: promoted, it commits alone (what a
    // failover manager does when no other standby is left).
    admin->ExecRawOne("ALTER SYSTEM SET synchronous_standby_names = '*'");
    admin->ExecRawOne("SELECT pg_reload_conf()");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      const auto r = admin->ExecRawOne(
          "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync' AND state = "
          "'streaming'");
      if (r.At(0, 0).Int64() == 1) break;
      if (std::chrono::steady_clock::now() > deadline)
        return "the standby never became synchronous; standby log:\n" + LogTail(false);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    admin->ExecRawOne("CREATE DATABASE " + database);
  } catch (const std::exception& e) {
    return std::string("setting up replication: ") + e.what() + "\nprimary log:\n" + LogTail(true);
  }
  return "";
}

std::string PgPair::MultiHostUrl() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(primary_.port) +
         ",127.0.0.1:" + std::to_string(standby_.port) + "/" + db_ +
         "?target_session_attrs=read-write";
}

std::string PgPair::PrimaryUrl(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(primary_.port) + "/" + db;
}

std::string PgPair::StandbyUrl(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(standby_.port) + "/" + db;
}

void PgPair::KillPrimary() {
  const pid_t pm = primary_.postmaster;
  if (pm <= 0) return;
  // Stopped first, so it forks nobody new while its children are listed; then all at once.
  ::kill(pm, SIGSTOP);
  std::vector<pid_t> all = Children(pm);
  all.push_back(pm);
  ::kill(-pm, SIGKILL);  // pg_ctl starts the server in a session (and process group) of its own
  for (pid_t p : all) ::kill(p, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::any_of(all.begin(), all.end(), Alive) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  primary_.postmaster = 0;  // nothing left to stop
}

std::string PgPair::PromoteStandby() {
  return Run({bin_ + "/pg_ctl", "-D", standby_.data, "-w", "-t", "30", "promote"},
             root_ + "/pg_ctl.log", std::chrono::seconds(40));
}

std::string PgPair::RestartPrimary(const std::string& mode) {
  const std::string err =
      Run({bin_ + "/pg_ctl", "-D", primary_.data, "-l", primary_.log, "-m", mode, "-w", "-t", "60",
           "restart", "-o", "-p " + std::to_string(primary_.port) + " -k " + root_ + "/sock"},
          root_ + "/pg_ctl.log", std::chrono::seconds(70));
  if (!err.empty()) return err + "\nprimary log:\n" + LogTail(true);
  std::ifstream pidfile(primary_.data + "/postmaster.pid");
  pidfile >> primary_.postmaster;
  return "";
}

std::string PgPair::LogTail(bool primary, int lines) const {
  return Tail(primary ? primary_.log : standby_.log, lines);
}

}  // namespace clubos::pgtest
