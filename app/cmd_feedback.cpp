// `clubos feedback export --since 7d [--out FILE]`: the cases (docs/cases.md) as JSON lines, one
// case per line, for anyone who wants to look at them elsewhere. Phone numbers are masked as
// everywhere else (the customer's number to its last 4 digits, and any number in a text).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "app/commands.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/time_format.h"
#include "store/db.h"

namespace clubos::app {
namespace {

using nlohmann::json;

// Cases read per statement: bounded memory whatever the window holds.
constexpr int kExportBatch = 500;

json Text(const store::Field& f) {
  const auto s = f.OptStr();
  return s ? json(log::RedactPhones(*s)) : json(nullptr);
}
json Time(const store::Field& f) {
  const auto t = f.OptTime();
  return t ? json(FormatIso8601(*t)) : json(nullptr);
}
json Id(const store::Field& f) {
  const auto v = f.OptInt64();
  return v ? json(*v) : json(nullptr);
}
json Parsed(const store::Field& f) {
  const auto s = f.OptStr();
  if (!s) return nullptr;
  json j = json::parse(*s, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

// A target's phone numbers are the customer's: masked.
json MaskedTarget(const store::Field& f) {
  json t = Parsed(f);
  if (t.is_object())
    for (const char* key : {"phone", "to"})
      if (t.contains(key) && t.at(key).is_string())
        t[key] = log::MaskPhone(t.at(key).get<std::string>());
  return t;
}

json CaseLine(const store::Result& r, std::size_t i) {
  json message = nullptr;
  if (!r.At(i, "message_id").IsNull())
    message = {{"id", r.At(i, "message_id").Int64()},
               {"text", Text(r.At(i, "message"))},
               {"at", Time(r.At(i, "message_at"))}};
  json feedback = nullptr;
  if (!r.At(i, "feedback_source").IsNull())
    feedback = {
        {"source", r.At(i, "feedback_source").Str()},   {"by", r.At(i, "feedback_author").Str()},
        {"helpful", r.At(i, "helpful").Bool()},         {"correction", Text(r.At(i, "correction"))},
        {"followup", Text(r.At(i, "followup"))},        {"matched", Text(r.At(i, "matched"))},
        {"version", r.At(i, "feedback_version").Int()}, {"at", Time(r.At(i, "feedback_at"))}};
  json outcomes = Parsed(r.At(i, "action_outcomes"));
  const auto customer = r.At(i, "customer_phone").OptStr();
  return {{"case_id", r.At(i, "id").Int64()},
          {"origin", r.At(i, "origin").Str()},
          {"state", r.At(i, "state").Str()},
          {"closed_reason", Text(r.At(i, "closed_reason"))},
          {"created_at", Time(r.At(i, "created_at"))},
          {"thread_id", Id(r.At(i, "thread_id"))},
          {"location", Text(r.At(i, "location"))},
          {"customer", customer ? json(log::MaskPhone(*customer)) : json(nullptr)},
          {"message", message},
          {"route", Parsed(r.At(i, "intent"))},
          {"answer", Text(r.At(i, "answer"))},
          {"sop_id", Text(r.At(i, "sop_id"))},
          {"sop_version",
           r.At(i, "sop_version").IsNull() ? json(nullptr) : json(r.At(i, "sop_version").Int())},
          {"outcome", Text(r.At(i, "outcome"))},
          {"action",
           {{"id", r.At(i, "action_id").Int64()},
            {"kind", r.At(i, "kind").Str()},
            {"state", r.At(i, "action_state").Str()},
            {"result", Text(r.At(i, "result"))},
            {"error", Text(r.At(i, "error"))},
            {"followed_sop", Text(r.At(i, "followed_sop"))},
            {"triggered_by", r.At(i, "triggered_by").Str()},
            {"rollback_needed", r.At(i, "rollback_needed").Bool()},
            {"target", MaskedTarget(r.At(i, "target"))},
            {"executed_at", Time(r.At(i, "executed_at"))}}},
          {"action_outcomes", outcomes.is_array() ? outcomes : json::array()},
          {"feedback", feedback},
          {"correction", feedback.is_null() ? json(nullptr) : feedback["correction"]}};
}

int Export(const Args& args) {
  Flags f(args, {"--since", "--out"}, {"--help"});
  if (f.Has("--help")) {
    std::puts(
        "usage: clubos feedback export [--since 7d] [--out FILE]\n"
        "  writes the cases made since then (7d: days, 12h: hours; default 7d) as JSON lines,\n"
        "  one case per line, oldest first: the customer's message, the route, the answer, the\n"
        "  SOP id and version, the action and the thread's action outcomes, the feedback and its\n"
        "  correction. Phone numbers are masked. To stdout, or to FILE. Reads only.");
    return 0;
  }
  if (!f.positional().empty()) throw UsageError("unexpected argument '" + f.positional()[0] + "'");
  const auto since = SystemClock::Instance().Now() - ParseSince(f.Str("--since", "7d"), "dh");
  std::ofstream file;
  if (f.Has("--out")) {
    const std::string path = f.Str("--out", "");
    if (path.empty()) throw UsageError("--out needs a file name");
    file.open(path, std::ios::out | std::ios::trunc);
    if (!file) throw std::runtime_error("cannot write " + path);
  }
  std::ostream& out = f.Has("--out") ? static_cast<std::ostream&>(file) : std::cout;
  auto db = store::Connect(DatabaseUrl());
  int64_t after = 0;
  long long n = 0;
  for (;;) {
    const auto rows = db->ExecOne("cases_export", {since, after, kExportBatch});
    for (std::size_t i = 0; i < rows.Size(); ++i) {
      out << CaseLine(rows, i).dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      ++n;
    }
    if (rows.Size() < static_cast<std::size_t>(kExportBatch)) break;
    after = rows.At(rows.Size() - 1, "id").Int64();
  }
  out.flush();
  if (!out) throw std::runtime_error("writing the export failed");
  std::fprintf(stderr, "clubos feedback export: %lld case%s since %s\n", n, n == 1 ? "" : "s",
               FormatIso8601(since).c_str());
  return 0;
}

}  // namespace

int CmdFeedback(const Args& args) {
  if (args.empty() || args[0] == "--help") {
    std::puts("usage: clubos feedback export [--since 7d] [--out FILE]");
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "export") return Export(Args(args.begin() + 1, args.end()));
  throw UsageError("unknown feedback command '" + args[0] + "' (export)");
}

}  // namespace clubos::app
