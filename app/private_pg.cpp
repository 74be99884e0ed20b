#include "app/private_pg.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "core/log.h"

namespace clubos::app {
namespace {

namespace fs = std::filesystem;

std::string FindBinDir() {
  if (const char* env = std::getenv("CLUBOS_PG_BIN")) return env;
  std::string best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int v = std::atoi(e.path().filename().c_str());
    if (v > best_version && fs::exists(e.path() / "bin" / "initdb")) {
      best_version = v;
      best = (e.path() / "bin").string();
    }
  }
  if (best.empty())
    throw std::runtime_error(
        "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)");
  return best;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not find a free port on 127.0.0.1");
  }
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

void Run(const std::string& cmd, const std::string& what, const std::string& log) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error(what + " failed; see " + log);
}

}  // namespace

PrivatePostgres::PrivatePostgres(bool durable) : bin_(FindBinDir()) {
  char tmpl[] = "/tmp/clubos-pg.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  as_postgres_ = ::geteuid() == 0;
  const std::string as = as_postgres_ ? "cd / && runuser -u postgres -- " : "";
  const std::string log = root_ + "/server.log";
  if (as_postgres_) {
    if (!::getpwnam("postgres"))
      Run("useradd --system --no-create-home --shell /usr/sbin/nologin postgres",
          "useradd postgres", log);
    Run("chown postgres " + root_ + " && chmod 755 " + root_, "chown", log);
  }
  fs::create_directories(root_ + "/sock");
  if (as_postgres_) Run("chown postgres " + root_ + "/sock", "chown", log);
  Run(as + bin_ + "/initdb -D " + root_ +
          "/data -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >" + root_ +
          "/initdb.log 2>&1",
      "initdb", root_ + "/initdb.log");
  const int port = FreePort();
  Run(as + bin_ + "/pg_ctl -D " + root_ + "/data -l " + log +
          " -w -t 60 start -o \"-c listen_addresses=127.0.0.1 -p " + std::to_string(port) + " -k " +
          root_ + "/sock -c max_connections=200 -c shared_buffers=256MB" +
          (durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off") +
          "\" >/dev/null",
      "pg_ctl start", log);
  Run(bin_ + "/createdb -h 127.0.0.1 -p " + std::to_string(port) + " -U postgres clubos",
      "createdb", log);
  url_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/clubos";
  log::Get()->info("private PostgreSQL on 127.0.0.1:{} in {}", port, root_);
}

PrivatePostgres::~PrivatePostgres() {
  const std::string as = as_postgres_ ? "cd / && runuser -u postgres -- " : "";
  [[maybe_unused]] int rc = std::system(
      (as + bin_ + "/pg_ctl -D " + root_ + "/data -m fast -w stop >/dev/null 2>&1").c_str());
  std::error_code ec;
  fs::remove_all(root_, ec);
}

}  // namespace clubos::app
