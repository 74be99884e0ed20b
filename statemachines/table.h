#pragma once
// A state machine as data: one row per line, `from + event -> to`. The engine checks every event
// against the table, the diagram is generated from it, and tests walk every (state, event) pair.
// Pure: no I/O, no clock, no database.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clubos::sm {

struct Row {
  std::string_view from;  // "-" for the birth of a row
  std::string_view event;
  std::string_view to;  // "=" keeps the current state
  std::string_view note;
  // The jobs entering `to` this way causes: "kind@timing,..." with timing one of now, debounce,
  // confirmation_ttl, verify_poll, close_after (statemachines/step.h turns them into jobs).
  std::string_view effects = "";
};

class Table {
 public:
  Table(std::string_view name, std::vector<std::string_view> states,
        std::vector<std::string_view> events, std::vector<Row> rows);

  std::string_view name() const { return name_; }
  const std::vector<std::string_view>& states() const { return states_; }
  const std::vector<std::string_view>& events() const { return events_; }
  const std::vector<Row>& rows() const { return rows_; }

  // The destination of `event` in `from`, or nullopt when the table has no such row (illegal).
  std::optional<std::string_view> Next(std::string_view from, std::string_view event) const;
  // The row that applies, or nullptr (illegal). `from` "-" finds a birth row.
  const Row* Find(std::string_view from, std::string_view event) const;
  bool IsState(std::string_view s) const;
  bool IsEvent(std::string_view e) const;
  // Graphviz source, generated from the rows.
  std::string Dot() const;

 private:
  std::string_view name_;
  std::vector<std::string_view> states_;
  std::vector<std::string_view> events_;
  std::vector<Row> rows_;
};

}  // namespace clubos::sm
