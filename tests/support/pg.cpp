#include "tests/support/pg.h"

#include <thread>

#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "store/migrator.h"
#include "workflows/knowledge_store.h"

namespace clubos::pgtest {
namespace {

std::string AdminUrl() {
  const char* url = std::getenv("CLUBOS_TEST_DATABASE_URL");
  return url ? url : "";
}

std::string WithDatabase(const std::string& url, const std::string& db) {
  const auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + db;
}

std::vector<std::string>& Created() {
  static std::vector<std::string> names;
  return names;
}

void DropAll() {
  try {
    auto admin = store::Connect(AdminUrl());
    for (const auto& name : Created())
      admin->ExecRawOne("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The cluster is thrown away by scripts/test anyway.
  }
}

std::string Create(const std::string& suffix) {
  std::string exe = "test";
  char buf[512];
  const auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    exe.assign(buf, static_cast<std::size_t>(n));
    exe = exe.substr(exe.rfind('/') + 1);
  }
  std::string name = "t_" + exe + "_" + std::to_string(::getpid()) + suffix;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  auto admin = store::Connect(AdminUrl());
  admin->ExecRawOne("CREATE DATABASE " + name);
  if (Created().empty()) std::atexit(DropAll);
  Created().push_back(name);
  return WithDatabase(AdminUrl(), name);
}

}  // namespace

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

const std::string& TestDatabaseUrl() {
  static const std::string url = [] {
    if (AdminUrl().empty()) return std::string();
    const std::string u = Create("");
    auto conn = store::Connect(u);
    store::Migrate(*conn);
    // The example facility's FAQ answers and procedures, as `scripts/demo` imports them: the
    // flow routes with the store's active versions.
    workflows::ImportKnowledge(
        *conn, workflows::ReadKnowledgeFolder(std::string(CLUBOS_SOURCE_DIR) + "/knowledge"));
    return u;
  }();
  return url;
}

std::string FlowReads::ThreadState(int64_t thread) const {
  return db->ExecSql("SELECT state FROM threads WHERE id = $1", {thread}).At(0, 0).Str();
}

std::string FlowReads::Escalation(int64_t thread) const {
  return db->ExecSql("SELECT coalesce(escalation_reason, '') FROM threads WHERE id = $1", {thread})
      .At(0, 0)
      .Str();
}

int64_t FlowReads::Scalar(const std::string& sql, const std::vector<store::Param>& params) const {
  return db->ExecSql(sql, params).At(0, 0).Int64();
}

std::string FlowReads::Text(const std::string& sql, const std::vector<store::Param>& params) const {
  const auto r = db->ExecSql(sql, params);
  return r.Empty() || r.At(0, 0).IsNull() ? "" : r.At(0, 0).Str();
}

bool FlowReads::ReachesState(int64_t thread, const std::string& state, Millis timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ThreadState(thread) == state) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void BookNow(store::Connection& db, const std::string& location, const std::string& phone,
             std::optional<int> bay) {
  db.ExecSql(
      "INSERT INTO bookings (id, location, bay, customer_phone, start_at, end_at) VALUES ($1, $2, "
      "$3, $4, now() - interval '30 minutes', now() + interval '90 minutes') ON CONFLICT DO "
      "NOTHING",
      {"test-" + location + "-" + phone, location, bay, phone});
}

std::string CreateScratchDatabase(const std::string& suffix) {
  return Create("_" + suffix);
}

std::unique_ptr<store::Connection> Connect() {
  return store::Connect(TestDatabaseUrl());
}

void ResetDatabase() {
  auto c = Connect();
  // transitions is append-only for everyone else; a test database may start over.
  c->ExecRawOne(
      "ALTER TABLE transitions DISABLE TRIGGER USER; "
      "TRUNCATE jobs, periodic_jobs, transitions, suggestions, actions, messages, threads, "
      "agent_devices, agent_reports, bookings, emergency_stops, toggles, control_events, "
      "token_usage, policy_versions, api_idempotency_keys, sessions, users, llm_cache, llm_calls, "
      "llm_outages, cases, feedback_history, feedback, reviewer_runs, reviewer_outages, "
      "leader_lease "
      "RESTART IDENTITY; "
      "ALTER TABLE transitions ENABLE TRIGGER USER");
}

void ResetKnowledge(bool import_example) {
  auto c = Connect();
  // The versions and events are append-only for everyone else; a test database may start over.
  c->ExecRawOne(
      "ALTER TABLE knowledge_versions DISABLE TRIGGER USER; "
      "ALTER TABLE knowledge_events DISABLE TRIGGER USER; "
      "TRUNCATE knowledge_documents, knowledge_versions, knowledge_proposals, knowledge_events, "
      "knowledge_conflicts, cases, feedback_history, feedback; "
      "ALTER TABLE knowledge_events ENABLE TRIGGER USER; "
      "ALTER TABLE knowledge_versions ENABLE TRIGGER USER");
  if (import_example)
    workflows::ImportKnowledge(
        *c, workflows::ReadKnowledgeFolder(std::string(CLUBOS_SOURCE_DIR) + "/knowledge"));
}

void ResetSelftestRecords(store::Connection& db) {
  db.ExecRawOne(
      "CREATE TABLE IF NOT EXISTS selftest_records (job_id bigint, attempt int, last_error text, "
      "given_back int); TRUNCATE selftest_records");
}

}  // namespace clubos::pgtest
