#include "store/migrator.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/log.h"
#include "store/embedded.h"

namespace clubos::store {
namespace {

// Held per transaction, so a crashed migrator can never leave it behind.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(727001)";
constexpr const char* kTableSql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

std::string Checksum(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable, dependency-free, enough to detect edits
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::map<int, std::string> AppliedChecksums(Tx& tx) {
  std::map<int, std::string> applied;
  auto r = tx.ExecRaw("SELECT version, checksum FROM schema_migrations ORDER BY version");
  for (std::size_t i = 0; i < r.Size(); ++i) applied[r.At(i, 0).Int()] = r.At(i, 1).Str();
  return applied;
}

void CheckCompatible(const std::map<int, std::string>& applied, const std::vector<Migration>& ms) {
  const int code_version = ms.empty() ? 0 : ms.back().version;
  for (const auto& [version, checksum] : applied) {
    if (version > code_version)
      throw SchemaError("database schema version " + std::to_string(version) +
                        " is newer than this binary (" + std::to_string(code_version) +
                        "): upgrade clubos before running it against this database");
    auto it = std::find_if(ms.begin(), ms.end(),
                           [&](const Migration& m) { return m.version == version; });
    if (it == ms.end())
      throw SchemaError("database has migration " + std::to_string(version) +
                        " that this binary lacks");
    if (it->checksum != checksum)
      throw SchemaError("migration " + std::to_string(version) + " (" + it->name +
                        ") was edited after it was applied; add a new migration instead");
  }
}

}  // namespace

std::vector<Migration> ParseMigrations(const std::vector<EmbeddedFile>& files) {
  std::vector<Migration> out;
  for (const auto& f : files) {
    const std::string path = f.path;
    int version = 0;
    char name[256] = {0};
    if (std::sscanf(path.c_str(), "%d_%255[a-z0-9_].sql", &version, name) != 2 || version <= 0 ||
        path.size() < 9 || path[4] != '_')
      throw SchemaError("migration file name must be NNNN_name.sql: " + path);
    out.push_back({version, name, f.content, Checksum(f.content)});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].version == out[i - 1].version)
      throw SchemaError("duplicate migration version " + std::to_string(out[i].version));
  return out;
}

const std::vector<Migration>& BuiltinMigrations() {
  static const std::vector<Migration> ms = ParseMigrations(Embeddedmigrations());
  return ms;
}

int Migrate(Connection& conn, const std::vector<Migration>& migrations) {
  int applied_now = 0;
  for (const auto& m : migrations) {
    bool applied_here = false;
    conn.Transact("migrate", [&](Tx& tx) {
      applied_here = false;
      tx.ExecRaw(kLockSql);
      tx.ExecRaw(kTableSql);
      const auto applied = AppliedChecksums(tx);
      CheckCompatible(applied, migrations);
      if (applied.count(m.version)) return;
      tx.ExecRaw(m.sql);
      tx.ExecRaw("INSERT INTO schema_migrations (version, name, checksum) VALUES (" +
                 std::to_string(m.version) + ", '" + m.name + "', '" + m.checksum + "')");
      applied_here = true;
    });
    if (applied_here) {
      ++applied_now;
      log::Get()->info("applied migration {:04d}_{}", m.version, m.name);
    }
  }
  if (migrations.empty()) return 0;
  // A database newer than the code is refused even when there was nothing to apply.
  conn.Transact("migrate_check", [&](Tx& tx) {
    tx.ExecRaw(kTableSql);
    CheckCompatible(AppliedChecksums(tx), migrations);
  });
  return applied_now;
}

SchemaStatus ReadSchemaStatus(Connection& conn, const std::vector<Migration>& migrations) {
  SchemaStatus s;
  s.code_version = migrations.empty() ? 0 : migrations.back().version;
  if (conn.ExecRawOne("SELECT to_regclass('schema_migrations') IS NULL").At(0, 0).Bool()) return s;
  s.db_version =
      conn.ExecRawOne("SELECT coalesce(max(version), 0) FROM schema_migrations").At(0, 0).Int();
  return s;
}

void RequireCurrentSchema(Connection& conn) {
  const auto s = ReadSchemaStatus(conn);
  if (s.db_version > s.code_version)
    throw SchemaError("database schema version " + std::to_string(s.db_version) +
                      " is newer than this binary (" + std::to_string(s.code_version) + ")");
  if (s.db_version < s.code_version)
    throw SchemaError("database schema version " + std::to_string(s.db_version) + " is behind " +
                      std::to_string(s.code_version) + ": run `clubos migrate` first");
}

}  // namespace clubos::store
