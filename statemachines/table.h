#pragma once
// A state machine as data: one row per line, `from + event [guard] -> to / effects => cascade`.
// The engine checks every event against the table, the diagram is generated from it, and tests
// walk every (state, event) pair. Pure: no I/O, no clock, no database.
//
// A row says the whole transition:
//   guard    which of several rows for one (from, event) applies: a named fact that the caller
//            decides ("primary", "!stopped", "primary && !stopped"); a row without one always does.
//   effects  the jobs entering `to` this way causes: "kind@timing,..."; timing is now (the
//            default), debounce, confirmation_ttl, verify_poll, close_after or takeover (step.h).
//   cascade  the event this transition causes on the parent machine's row in the same transaction
//            (an action moves its thread): "event", "event [guard]", and "| job" for the job to
//            run instead when the guard does not hold or the parent's table refuses the event.
// Every name is checked when the table is built: a typo fails at start-up, not in production.
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
  std::string_view effects = "";
  std::string_view guard = "";
  std::string_view cascade = "";
};

// A guard: every name in `all` must hold, none in `none`.
struct Guard {
  std::vector<std::string_view> all;
  std::vector<std::string_view> none;
  bool Empty() const { return all.empty() && none.empty(); }
};

struct Cascade {
  std::string_view event;     // on the parent's row ("" none)
  Guard guard;                // when it applies
  std::string_view fallback;  // the job kind instead ("" none)
};

// What the caller knows about the row the event applies to: the guards' names, each true or
// false. Asking for a name the caller did not decide is a programming error (it throws), so a
// forgotten fact cannot silently select the other row.
class Facts {
 public:
  Facts() = default;
  Facts(std::initializer_list<std::pair<std::string_view, bool>> facts);
  Facts& Set(std::string_view name, bool value);
  bool Holds(const Guard& guard) const;

 private:
  bool Get(std::string_view name) const;
  std::vector<std::pair<std::string_view, bool>> facts_;
};

class Table {
 public:
  // `guards`: the fact names its rows may use. `parent`: the table cascades go to (nullptr none).
  Table(std::string_view name, std::vector<std::string_view> states,
        std::vector<std::string_view> events, std::vector<Row> rows,
        std::vector<std::string_view> guards = {}, const Table* parent = nullptr);

  std::string_view name() const { return name_; }
  const std::vector<std::string_view>& states() const { return states_; }
  const std::vector<std::string_view>& events() const { return events_; }
  const std::vector<std::string_view>& guards() const { return guards_; }
  const std::vector<Row>& rows() const { return rows_; }
  const Table* parent() const { return parent_; }

  // The row that applies given `facts`, or nullptr (illegal, or no row's guard holds). `from` "-"
  // finds a birth row.
  const Row* Find(std::string_view from, std::string_view event, const Facts& facts) const;
  // The rows for (from, event), whatever their guards.
  std::vector<const Row*> Candidates(std::string_view from, std::string_view event) const;
  // Whether some row moves `from` to `to` on `event` (for checking a stored history, where the
  // facts of the time are not known).
  bool Allows(std::string_view from, std::string_view event, std::string_view to) const;
  // Whether any row accepts `event` in `from`, whatever the facts.
  bool Accepts(std::string_view from, std::string_view event) const;
  bool IsState(std::string_view s) const;
  bool IsEvent(std::string_view e) const;
  const Guard& GuardOf(const Row& row) const;
  const Cascade& CascadeOf(const Row& row) const;
  // The job kinds the rows' effects and cascade fallbacks name (each once).
  std::vector<std::string_view> JobKinds() const;
  // Graphviz source, generated from the rows: guards in brackets, cascades after "=>".
  std::string Dot() const;

 private:
  std::string_view name_;
  std::vector<std::string_view> states_;
  std::vector<std::string_view> events_;
  std::vector<Row> rows_;
  std::vector<std::string_view> guards_;
  const Table* parent_;
  std::vector<Guard> row_guards_;  // by row index
  std::vector<Cascade> cascades_;  // by row index
};

// Parses "a && !b" (the names are not checked here).
Guard ParseGuard(std::string_view text);

}  // namespace clubos::sm
