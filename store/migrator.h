#pragma once
// Forward-only migrations from schema/migrations/NNNN_name.sql, each applied in its own transaction
// under a transaction-level advisory lock, so that several machines may run `clubos migrate` at
// once: one applies, the others wait and then find nothing to do.
#include <stdexcept>
#include <string>
#include <vector>

#include "store/db.h"
#include "store/embedded.h"

namespace clubos::store {

struct Migration {
  int version;
  std::string name;
  std::string sql;
  std::string checksum;  // of the file as compiled in; an edited, already-applied file is an error
};

class SchemaError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SchemaStatus {
  int code_version = 0;  // newest migration compiled into this binary
  int db_version = 0;    // newest migration applied to the database (0: none)
  bool Current() const { return code_version == db_version; }
};

// Parses and orders the migrations; throws SchemaError on a malformed name or duplicate version.
std::vector<Migration> ParseMigrations(const std::vector<EmbeddedFile>& files);
const std::vector<Migration>& BuiltinMigrations();

// Applies what is missing; returns how many were applied by this call. Throws SchemaError when
// the database is newer than the code or an applied migration's checksum differs.
int Migrate(Connection& conn, const std::vector<Migration>& migrations = BuiltinMigrations());
SchemaStatus ReadSchemaStatus(Connection& conn,
                              const std::vector<Migration>& migrations = BuiltinMigrations());
// For processes that need the schema (worker, serve): throws SchemaError unless it is current.
void RequireCurrentSchema(Connection& conn);

}  // namespace clubos::store
