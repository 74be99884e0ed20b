// `clubos sop import DIR` / `clubos sop export DIR`: the knowledge store and a folder of markdown
// files (docs/knowledge.md). Import is one transaction and deactivates nothing.
#include <cstdio>

#include "app/cli.h"
#include "app/commands.h"
#include "core/config.h"
#include "store/db.h"
#include "workflows/knowledge_store.h"

namespace clubos::app {

namespace {

constexpr const char* kUsage =
    "usage: clubos sop import DIR [--config clubos.json]\n"
    "       clubos sop export DIR\n"
    "  import: reads every DIR/*.md knowledge file (docs/knowledge.md) and, in one transaction,\n"
    "    makes each changed file a new active version of its document (author \"import\") and\n"
    "    each new id a document. A file equal to the active version changes nothing. Any bad\n"
    "    file (each problem is printed as file:line: field: what) and nothing is imported.\n"
    "    A document that is not in DIR is left as it is: nothing is ever deactivated by an\n"
    "    import. --config: every location an entry names must be one of the config's.\n"
    "  export: writes every document's active version to DIR/<id>.md in canonical form\n"
    "    (DIR is created if missing; other files in it are left alone). Importing what export\n"
    "    wrote changes nothing.\n"
    "  Both need CLUBOS_DATABASE_URL.";

std::string Dir(const Flags& f) {
  if (f.positional().size() != 1) throw UsageError("one folder, please (see clubos sop --help)");
  return f.positional()[0];
}

int Import(const Args& args) {
  Flags f(args, {"--config"}, {"--help"});
  if (f.Has("--help")) {
    std::puts(kUsage);
    return 0;
  }
  const std::string dir = Dir(f);
  workflows::ImportOptions options;
  if (f.Has("--config"))
    for (const auto& l : Config::Load(f.Str("--config", "")).locations)
      options.known_locations.push_back(l.id);
  const auto files = workflows::ReadKnowledgeFolder(dir);
  if (files.empty()) throw UsageError(dir + " holds no .md file");
  auto db = store::Connect(DatabaseUrl());
  workflows::ImportReport report;
  try {
    report = workflows::ImportKnowledge(*db, files, options);
  } catch (const workflows::KnowledgeFormatError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.Describe().c_str());
    std::fprintf(stderr, "clubos sop import: %zu problem(s) in %s; nothing was imported\n",
                 e.problems().size(), dir.c_str());
    return 1;
  }
  for (const auto& d : report.documents) {
    if (d.outcome == "added")
      std::printf("added      %s v%d (%s)\n", d.id.c_str(), d.version, d.file.c_str());
    else if (d.outcome == "changed")
      std::printf("changed    %s v%d -> v%d (%s)\n", d.id.c_str(), d.was_version, d.version,
                  d.file.c_str());
    else
      std::printf("unchanged  %s v%d\n", d.id.c_str(), d.version);
  }
  for (const auto& id : report.left_alone)
    std::printf("left alone %s: not in %s, still active (an import deactivates nothing)\n",
                id.c_str(), dir.c_str());
  std::printf("%d added, %d changed, %d unchanged, %zu left alone\n", report.Count("added"),
              report.Count("changed"), report.Count("unchanged"), report.left_alone.size());
  return 0;
}

int Export(const Args& args) {
  Flags f(args, {}, {"--help"});
  if (f.Has("--help")) {
    std::puts(kUsage);
    return 0;
  }
  const std::string dir = Dir(f);
  auto db = store::Connect(DatabaseUrl());
  const auto report = workflows::ExportKnowledge(*db, dir);
  for (const auto& name : report.written) std::printf("wrote      %s\n", name.c_str());
  for (const auto& name : report.left_alone)
    std::printf("left alone %s: no document of that id\n", name.c_str());
  std::printf("%zu written to %s\n", report.written.size(), dir.c_str());
  return 0;
}

}  // namespace

int CmdSop(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::puts(kUsage);
    return args.empty() ? 2 : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "import") return Import(rest);
  if (args[0] == "export") return Export(rest);
  throw UsageError("unknown sop command '" + args[0] + "' (import, export)");
}

}  // namespace clubos::app
