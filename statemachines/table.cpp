#include "statemachines/table.h"

#include <algorithm>
#include <stdexcept>

namespace clubos::sm {

Table::Table(std::string_view name, std::vector<std::string_view> states,
             std::vector<std::string_view> events, std::vector<Row> rows)
    : name_(name), states_(std::move(states)), events_(std::move(events)), rows_(std::move(rows)) {
  for (const auto& r : rows_) {
    if (r.from != "-" && !IsState(r.from))
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

const Row* Table::Find(std::string_view from, std::string_view event) const {
  if (from != "-" && !IsState(from)) return nullptr;
  for (const auto& r : rows_)
    if (r.from == from && r.event == event) return &r;
  return nullptr;
}

std::optional<std::string_view> Table::Next(std::string_view from, std::string_view event) const {
  if (from == "-") return std::nullopt;  // a birth is not a transition of an existing row
  const Row* r = Find(from, event);
  if (!r) return std::nullopt;
  return r->to == "=" ? from : r->to;
}

std::string Table::Dot() const {
  std::string out =
      "digraph " + std::string(name_) + " {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& s : states_) out += "  \"" + std::string(s) + "\";\n";
  out += "  \"-\" [shape=point];\n";  // where rows are born
  for (const auto& r : rows_) {
    const std::string to = r.to == "=" ? std::string(r.from) : std::string(r.to);
    std::string label(r.event);
    if (!r.effects.empty()) label += " / " + std::string(r.effects);
    out += "  \"" + std::string(r.from) + "\" -> \"" + to + "\" [label=\"" + label + "\"];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace clubos::sm
