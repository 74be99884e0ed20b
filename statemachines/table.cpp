#include "statemachines/table.h"

#include <algorithm>
#include <stdexcept>

namespace clubos::sm {

Table::Table(std::string_view name, std::vector<std::string_view> states,
             std::vector<std::string_view> events, std::vector<Row> rows)
    : name_(name), states_(std::move(states)), events_(std::move(events)), rows_(std::move(rows)) {
  for (const auto& r : rows_) {
    if (r.from != "*" && !IsState(r.from))
      throw std::logic_error(std::string(name_) + ": unknown state " + std::string(r.from));
    if (r.to != "=" && !IsState(r.to))
      throw std::logic_error(std::string(name_) + ": unknown state " + std::string(r.to));
    if (!IsEvent(r.event))
      throw std::logic_error(std::string(name_) + ": unknown event " + std::string(r.event));
  }
}

bool Table::IsState(std::string_view s) const {
  return std::find(states_.begin(), states_.end(), s) != states_.end();
}
bool Table::IsEvent(std::string_view e) const {
  return std::find(events_.begin(), events_.end(), e) != events_.end();
}

std::optional<std::string_view> Table::Next(std::string_view from, std::string_view event) const {
  if (!IsState(from)) return std::nullopt;
  // Exact rows win over wildcard rows.
  for (const auto& r : rows_)
    if (r.from == from && r.event == event) return r.to == "=" ? from : r.to;
  for (const auto& r : rows_)
    if (r.from == "*" && r.event == event) return r.to == "=" ? from : r.to;
  return std::nullopt;
}

std::string Table::Dot() const {
  std::string out =
      "digraph " + std::string(name_) + " {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& s : states_) out += "  \"" + std::string(s) + "\";\n";
  for (const auto& r : rows_) {
    const auto froms = r.from == "*" ? states_ : std::vector<std::string_view>{r.from};
    for (const auto& f : froms) {
      const std::string to = r.to == "=" ? std::string(f) : std::string(r.to);
      out += "  \"" + std::string(f) + "\" -> \"" + to + "\" [label=\"" + std::string(r.event) +
             "\"];\n";
    }
  }
  out += "}\n";
  return out;
}

}  // namespace clubos::sm
