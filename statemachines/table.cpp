#include "statemachines/table.h"

#include <algorithm>
#include <stdexcept>

namespace clubos::sm {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool IsName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool Contains(const std::vector<std::string_view>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

constexpr std::string_view kTimingNames[] = {"now",         "debounce",    "confirmation_ttl",
                                             "verify_poll", "close_after", "takeover"};

// "kind@timing,...": the kinds, each checked for shape and timing.
std::vector<std::string_view> EffectKinds(std::string_view effects, const std::string& where) {
  std::vector<std::string_view> kinds;
  std::string_view rest = effects;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view spec = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto at = spec.find('@');
    const std::string_view kind = Trim(spec.substr(0, at));
    const std::string_view timing =
        at == std::string_view::npos ? "now" : Trim(spec.substr(at + 1));
    if (!IsName(kind)) throw std::logic_error(where + ": bad effect '" + std::string(spec) + "'");
    if (std::find(std::begin(kTimingNames), std::end(kTimingNames), timing) ==
        std::end(kTimingNames))
      throw std::logic_error(where + ": unknown effect timing '" + std::string(spec) + "'");
    kinds.push_back(kind);
  }
  return kinds;
}

}  // namespace

Guard ParseGuard(std::string_view text) {
  Guard g;
  std::string_view rest = Trim(text);
  while (!rest.empty()) {
    const auto amp = rest.find("&&");
    std::string_view term = Trim(rest.substr(0, amp));
    rest = amp == std::string_view::npos ? std::string_view() : Trim(rest.substr(amp + 2));
    if (!term.empty() && term.front() == '!')
      g.none.push_back(Trim(term.substr(1)));
    else
      g.all.push_back(term);
  }
  return g;
}

Facts::Facts(std::initializer_list<std::pair<std::string_view, bool>> facts)
    : facts_(facts.begin(), facts.end()) {}

Facts& Facts::Set(std::string_view name, bool value) {
  for (auto& [n, v] : facts_)
    if (n == name) {
      v = value;
      return *this;
    }
  facts_.emplace_back(name, value);
  return *this;
}

bool Facts::Get(std::string_view name) const {
  for (const auto& [n, v] : facts_)
    if (n == name) return v;
  throw std::logic_error("guard '" + std::string(name) + "' was not decided by the caller");
}

bool Facts::Holds(const Guard& guard) const {
  for (auto n : guard.all)
    if (!Get(n)) return false;
  for (auto n : guard.none)
    if (Get(n)) return false;
  return true;
}

Table::Table(std::string_view name, std::vector<std::string_view> states,
             std::vector<std::string_view> events, std::vector<Row> rows,
             std::vector<std::string_view> guards, const Table* parent)
    : name_(name),
      states_(std::move(states)),
      events_(std::move(events)),
      rows_(std::move(rows)),
      guards_(std::move(guards)),
      parent_(parent) {
  auto fail = [&](const Row& r, const std::string& what) {
    throw std::logic_error(std::string(name_) + " " + std::string(r.from) + " + " +
                           std::string(r.event) + ": " + what);
  };
  auto check_guard = [&](const Row& r, const Guard& g) {
    for (const auto& list : {g.all, g.none})
      for (auto n : list)
        if (!Contains(guards_, n)) fail(r, "unknown guard '" + std::string(n) + "'");
  };
  for (const auto& r : rows_) {
    if (r.from != "-" && !IsState(r.from)) fail(r, "unknown state " + std::string(r.from));
    if (r.to != "=" && !IsState(r.to)) fail(r, "unknown state " + std::string(r.to));
    if (!IsEvent(r.event)) fail(r, "unknown event");
    EffectKinds(r.effects, std::string(name_) + " " + std::string(r.event));
    row_guards_.push_back(ParseGuard(r.guard));
    check_guard(r, row_guards_.back());
    Cascade c;
    std::string_view spec = Trim(r.cascade);
    if (const auto bar = spec.find('|'); bar != std::string_view::npos) {
      c.fallback = Trim(spec.substr(bar + 1));
      spec = Trim(spec.substr(0, bar));
      if (!IsName(c.fallback)) fail(r, "bad cascade fallback '" + std::string(r.cascade) + "'");
    }
    if (const auto open = spec.find('['); open != std::string_view::npos) {
      const auto close = spec.find(']', open);
      if (close == std::string_view::npos) fail(r, "unclosed cascade guard");
      c.guard = ParseGuard(spec.substr(open + 1, close - open - 1));
      check_guard(r, c.guard);
      spec = Trim(spec.substr(0, open));
    }
    c.event = spec;
    if (!c.event.empty() && (!parent_ || !parent_->IsEvent(c.event)))
      fail(r, "cascade to an event its parent table does not have: " + std::string(r.cascade));
    cascades_.push_back(std::move(c));
  }
  // Several rows for one (from, event) are told apart by their guards: each must have one, and
  // no two the same, so the row that applies never depends on the order of the lines.
  for (std::size_t i = 0; i < rows_.size(); ++i)
    for (std::size_t j = i + 1; j < rows_.size(); ++j) {
      if (rows_[i].from != rows_[j].from || rows_[i].event != rows_[j].event) continue;
      const Guard &a = row_guards_[i], &b = row_guards_[j];
      if (a.Empty() || b.Empty()) fail(rows_[j], "several rows, and one has no guard");
      if (a.all == b.all && a.none == b.none) fail(rows_[j], "two rows with the same guard");
    }
}

bool Table::IsState(std::string_view s) const {
  return Contains(states_, s);
}
bool Table::IsEvent(std::string_view e) const {
  return Contains(events_, e);
}

const Guard& Table::GuardOf(const Row& row) const {
  return row_guards_.at(&row - rows_.data());
}
const Cascade& Table::CascadeOf(const Row& row) const {
  return cascades_.at(&row - rows_.data());
}

std::vector<const Row*> Table::Candidates(std::string_view from, std::string_view event) const {
  std::vector<const Row*> out;
  if (from != "-" && !IsState(from)) return out;
  for (const auto& r : rows_)
    if (r.from == from && r.event == event) out.push_back(&r);
  return out;
}

const Row* Table::Find(std::string_view from, std::string_view event, const Facts& facts) const {
  for (const Row* r : Candidates(from, event))
    if (facts.Holds(GuardOf(*r))) return r;
  return nullptr;
}

bool Table::Accepts(std::string_view from, std::string_view event) const {
  return from != "-" && !Candidates(from, event).empty();
}

bool Table::Allows(std::string_view from, std::string_view event, std::string_view to) const {
  if (from == "-") return false;  // a birth is not a transition of an existing row
  for (const Row* r : Candidates(from, event))
    if ((r->to == "=" ? from : r->to) == to) return true;
  return false;
}

std::vector<std::string_view> Table::JobKinds() const {
  std::vector<std::string_view> kinds;
  auto add = [&](std::string_view k) {
    if (!k.empty() && !Contains(kinds, k)) kinds.push_back(k);
  };
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    for (auto k : EffectKinds(rows_[i].effects, std::string(name_))) add(k);
    add(cascades_[i].fallback);
  }
  return kinds;
}

std::string Table::Dot() const {
  std::string out =
      "digraph " + std::string(name_) + " {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& s : states_) out += "  \"" + std::string(s) + "\";\n";
  out += "  \"-\" [shape=point];\n";  // where rows are born
  for (const auto& r : rows_) {
    const std::string to = r.to == "=" ? std::string(r.from) : std::string(r.to);
    std::string label(r.event);
    if (!r.guard.empty()) label += " [" + std::string(r.guard) + "]";
    if (!r.effects.empty()) label += " / " + std::string(r.effects);
    if (!r.cascade.empty())
      label +=
          "\\n=> " + std::string(parent_ ? parent_->name() : "") + " " + std::string(r.cascade);
    out += "  \"" + std::string(r.from) + "\" -> \"" + to + "\" [label=\"" + label + "\"];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace clubos::sm
