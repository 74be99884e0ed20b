#include "simulation/history.h"

#include "store/db.h"
#include "workflows/engine.h"

namespace clubos::simulation {

std::vector<TransitionRow> ReadTransitions(store::Connection& db, int64_t after_id) {
  auto r = db.ExecSql(
      "SELECT id, entity, entity_id, from_state, event, to_state FROM transitions WHERE id > $1 "
      "ORDER BY id",
      {after_id});
  std::vector<TransitionRow> rows;
  rows.reserve(r.Size());
  for (std::size_t i = 0; i < r.Size(); ++i)
    rows.push_back({r.At(i, "id").Int64(), r.At(i, "entity").Str(), r.At(i, "entity_id").Int64(),
                    r.At(i, "from_state").OptStr(), r.At(i, "event").Str(),
                    r.At(i, "to_state").Str()});
  return rows;
}

std::string HistoryWalk::Feed(const TransitionRow& row) {
  last_id_ = row.id;
  const auto key = std::make_pair(row.entity, row.entity_id);
  const auto it = last_.find(key);
  const std::optional<std::string> prev =
      it == last_.end() ? std::nullopt : std::optional<std::string>(it->second);
  last_[key] = row.to;
  const std::string who = row.entity + " " + std::to_string(row.entity_id) + ", transition " +
                          std::to_string(row.id) + ": ";
  if (row.from != prev)
    return who + "starts at " + row.from.value_or("(birth)") + " but the history ended at " +
           prev.value_or("(nothing)");
  if (!row.from) return "";  // a birth: its event and state are the statement's own
  const auto machine =
      row.entity == "thread" ? workflows::Machine::kThread : workflows::Machine::kAction;
  const auto& table = workflows::TableOf(machine);
  if (!table.Accepts(*row.from, row.event))
    return who + *row.from + " + " + row.event + " is not in the table";
  // Which row applied depended on facts of the time (its guard): one of them must land there.
  if (!table.Allows(*row.from, row.event, row.to))
    return who + *row.from + " + " + row.event + " lands at " + row.to +
           ", where no row of the table goes";
  return "";
}

std::vector<std::string> HistoryViolations(store::Connection& db) {
  HistoryWalk walk;
  std::vector<std::string> out;
  for (const auto& row : ReadTransitions(db))
    if (auto v = walk.Feed(row); !v.empty()) out.push_back(std::move(v));
  return out;
}

}  // namespace clubos::simulation
