#pragma once
// A primary and a synchronous hot standby of their own, for tests that kill the primary: two
// throwaway clusters on free loopback ports in a folder under /tmp, streaming replication, and
// every commit on the primary waiting for the standby (synchronous_standby_names = '*',
// synchronous_commit = on). fsync and full_page_writes are off: the clusters are thrown away, and
// what the tests rely on is that an acknowledged commit is on the standby, which they do not
// weaken. Run as root, the servers run as the `postgres` user (initdb refuses root), as
// scripts/lib/common.sh's pg_up does; run as anyone else, as that user.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace clubos::pgtest {

// Where the server binaries are: $PG_BIN, else the newest /usr/lib/postgresql/*/bin; "" if none.
std::string PgBinDir();

class PgPair {
 public:
  // Creates the folder; starts nothing. `name` goes into the folder's name.
  explicit PgPair(const std::string& name);
  // Kills whatever of both clusters still runs and removes the folder, whatever happened.
  ~PgPair();
  PgPair(const PgPair&) = delete;
  PgPair& operator=(const PgPair&) = delete;

  // initdb the primary, start it, pg_basebackup -R the standby, start it, make it synchronous and
  // wait until the primary says so, create `database`. Returns "" or what went wrong (with the
  // tail of the log that says why).
  std::string Start(const std::string& database);

  // postgresql://127.0.0.1:P1,127.0.0.1:P2/DB?target_session_attrs=read-write
  std::string MultiHostUrl() const;
  std::string PrimaryUrl(const std::string& db) const;
  std::string StandbyUrl(const std::string& db) const;
  int primary_port() const { return primary_.port; }
  int standby_port() const { return standby_.port; }

  // SIGKILL to the primary's postmaster and every process it started at once, as when the server
  // crashes whole; returns when none of them is left.
  void KillPrimary();
  // pg_ctl promote -w on the standby; "" or what went wrong. A failover manager would then also
  // stop waiting for a synchronous standby that no longer exists; the standby never had
  // synchronous_standby_names set (it was set on the primary after the base backup), so the new
  // primary commits alone until a new standby is attached.
  std::string PromoteStandby();
  // pg_ctl restart of the primary on its port, `mode` "fast" (a clean stop: sessions are ended,
  // a checkpoint written) or "immediate" (as a crash: crash recovery at start); "" or what went
  // wrong.
  std::string RestartPrimary(const std::string& mode);

  std::string LogTail(bool primary, int lines = 20) const;

 private:
  struct Cluster {
    std::string name, data, log;
    int port = 0;
    pid_t postmaster = 0;  // from postmaster.pid once started
  };
  std::string Run(const std::vector<std::string>& argv, const std::string& log,
                  std::chrono::seconds timeout) const;
  std::string StartCluster(Cluster& c);
  void StopCluster(Cluster& c);

  std::string root_, bin_, db_;
  bool as_postgres_ = false;
  Cluster primary_, standby_;
};

}  // namespace clubos::pgtest
