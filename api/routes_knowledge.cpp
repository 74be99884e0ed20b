// The knowledge store through the API (operators): search the active documents, read one's
// versions with their diffs, proposals, conflicts and history; propose, dry-run, approve, reject,
// restore; ask the reviewer to run now. The workflow lives in workflows/knowledge_review.h; these
// handlers parse, authorize and map.
#include "api/dto.h"
#include "api/internal.h"
#include "core/time_format.h"
#include "workflows/flow.h"
#include "workflows/knowledge.h"
#include "workflows/knowledge_review.h"
#include "workflows/knowledge_store.h"

namespace clubos::api {
namespace {

std::string DocumentId(const Request& r) {
  const std::string& id = r.Param("id");
  if (id.empty() || id.size() > 100) throw BadRequest("a document id is 1..100 characters");
  return id;
}

std::string StateQuery(const Request& r, std::initializer_list<const char*> allowed) {
  const auto s = r.Query("state");
  if (!s || s->empty()) return "";
  std::string names;
  for (const char* a : allowed) {
    if (*s == a) return *s;
    names += (names.empty() ? "" : ", ") + std::string(a);
  }
  throw BadRequest("state must be one of " + names);
}

json ProposalJson(const store::Result& r, std::size_t i, bool whole) {
  json j = {{"id", r.At(i, "id").Int64()},
            {"document_id", r.At(i, "document_id").Str()},
            {"base_version", r.At(i, "base_version").Int()},
            {"state", r.At(i, "state").Str()},
            {"author", r.At(i, "author").Str()},
            {"author_kind", r.At(i, "author_kind").Str()},
            {"reasoning", r.At(i, "reasoning").Str()},
            {"replay", JsonField(r.At(i, "replay"))},
            {"decided_by", TextField(r.At(i, "decided_by"))},
            {"decided_at", TimeJson(r.At(i, "decided_at"))},
            {"approved_version", IntField(r.At(i, "approved_version"))},
            {"created_at", TimeJson(r.At(i, "created_at"))}};
  if (whole) {
    j["content"] = r.At(i, "content").Str();
    j["diff"] = r.At(i, "diff").Str();
    j["case_ids"] = json::array();
    for (const auto& c : workflows::ParseKnowledgeTextArray(r.At(i, "case_ids").Str()))
      j["case_ids"].push_back(std::stoll(c));
    j["decision_note"] = TextField(r.At(i, "decision_note"));
    j["replayed_at"] = TimeJson(r.At(i, "replayed_at"));
  } else {
    j["cases"] = r.At(i, "cases").Int();
  }
  return j;
}

json ProposalById(store::Connection& db, int64_t id) {
  const auto r = db.ExecOne("knowledge_proposal_get", {id});
  if (r.Empty())
    throw ApiError(404, "not_found", "proposal " + std::to_string(id) + " does not exist");
  return ProposalJson(r, 0, true);
}

json ConflictsJson(const store::Result& r) {
  json out = json::array();
  for (std::size_t i = 0; i < r.Size(); ++i)
    out.push_back({{"id", r.At(i, "id").Int64()},
                   {"documents", workflows::ParseKnowledgeTextArray(r.At(i, "documents").Str())},
                   {"reason", r.At(i, "reason").Str()},
                   {"found_by", r.At(i, "found_by").Str()},
                   {"state", r.At(i, "state").Str()},
                   {"resolved_by", TextField(r.At(i, "resolved_by"))},
                   {"resolved_at", TimeJson(r.At(i, "resolved_at"))},
                   {"created_at", TimeJson(r.At(i, "created_at"))}});
  return out;
}

}  // namespace

Response SearchKnowledge(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string q = r.Query("q").value_or("");
  const std::string location = r.Query("location").value_or("");
  if (q.size() > 200) throw BadRequest("q is at most 200 bytes");
  if (!location.empty() && !api.flow.config().FindLocation(location))
    throw BadRequest("location '" + location + "' is not in the facility");
  auto db = api.Db();
  const auto rows = db->ExecOne("knowledge_search", {q, location});
  json docs = json::array();
  for (std::size_t i = 0; i < rows.Size(); ++i)
    docs.push_back(
        {{"id", rows.At(i, "id").Str()},
         {"version", rows.At(i, "version").Int()},
         {"title", rows.At(i, "title").Str()},
         {"category", rows.At(i, "category").Str()},
         {"locations", workflows::ParseKnowledgeTextArray(rows.At(i, "locations").Str())},
         {"action", rows.At(i, "action").Str()},
         {"activated_at", TimeJson(rows.At(i, "activated_at"))},
         {"open_proposals", rows.At(i, "open_proposals").Int64()},
         {"open_conflicts", rows.At(i, "open_conflicts").Int64()}});
  const auto outage = db->ExecOne("reviewer_outage_deferrals");
  const auto runs = db->ExecOne("reviewer_runs_recent", {5});
  json recent = json::array();
  for (std::size_t i = 0; i < runs.Size(); ++i)
    recent.push_back(
        {{"id", runs.At(i, "id").Int64()},
         {"outcome", runs.At(i, "outcome").Str()},
         {"cases", runs.At(i, "cases").Int()},
         {"proposals", runs.At(i, "proposals").Int()},
         {"conflicts", runs.At(i, "conflicts").Int()},
         {"tokens", runs.At(i, "tokens_in").Int64() + runs.At(i, "tokens_out").Int64()},
         {"detail", TextField(runs.At(i, "detail"))},
         {"at", TimeJson(runs.At(i, "at"))}});
  return JsonResponse(200, {{"documents", docs},
                            {"reviewer",
                             {{"configured", api.flow.HasReviewer()},
                              {"degraded", !outage.Empty()},
                              {"runs", recent}}}});
}

Response GetKnowledgeDocument(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string id = DocumentId(r);
  auto db = api.Db();
  const auto versions = db->ExecOne("knowledge_versions_of", {id});
  if (versions.Empty())
    throw ApiError(404, "not_found", "knowledge document '" + id + "' does not exist");
  // Each version with its diff against the one before it.
  std::vector<std::string> contents;
  for (std::size_t i = 0; i < versions.Size(); ++i)
    contents.push_back(workflows::SerializeKnowledge(workflows::KnowledgeEntryOf(versions, i)));
  json list = json::array();
  int active = 0;
  for (std::size_t i = 0; i < versions.Size(); ++i) {
    if (versions.At(i, "active").Bool()) active = versions.At(i, "version").Int();
    list.push_back(
        {{"version", versions.At(i, "version").Int()},
         {"active", versions.At(i, "active").Bool()},
         {"author", versions.At(i, "author").Str()},
         {"source", versions.At(i, "source").Str()},
         {"reason", versions.At(i, "reason").Str()},
         {"proposal_id", IntField(versions.At(i, "proposal_id"))},
         {"approved_by", TextField(versions.At(i, "approved_by"))},
         {"created_at", TimeJson(versions.At(i, "created_at"))},
         {"content", contents[i]},
         {"diff", i + 1 < versions.Size() ? workflows::LineDiff(contents[i + 1], contents[i])
                                          : std::string()}});
  }
  const auto proposals = db->ExecOne("knowledge_proposals_list", {"", id, 100});
  json plist = json::array();
  for (std::size_t i = 0; i < proposals.Size(); ++i)
    plist.push_back(ProposalJson(proposals, i, false));
  const auto events = db->ExecOne("knowledge_events_of", {id});
  json elist = json::array();
  for (std::size_t i = 0; i < events.Size(); ++i)
    elist.push_back({{"id", events.At(i, "id").Int64()},
                     {"event", events.At(i, "event").Str()},
                     {"proposal_id", IntField(events.At(i, "proposal_id"))},
                     {"version", IntField(events.At(i, "version"))},
                     {"actor", events.At(i, "actor").Str()},
                     {"note", TextField(events.At(i, "note"))},
                     {"at", TimeJson(events.At(i, "at"))}});
  return JsonResponse(200, {{"id", id},
                            {"active_version", active},
                            {"versions", list},
                            {"proposals", plist},
                            {"history", elist}});
}

Response PostKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const std::string id = DocumentId(r);
  const auto body = dto::ParseKnowledgeProposal(r.body);
  auto db = api.Db();
  const int64_t proposal =
      api.flow.knowledge_review().Propose(*db, {.document_id = id,
                                                .base_version = body.base_version,
                                                .content = body.content,
                                                .reasoning = body.reasoning,
                                                .case_ids = body.case_ids,
                                                .author = p.Actor()});
  return JsonResponse(201, ProposalById(*db, proposal));
}

Response RestoreKnowledge(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const std::string id = DocumentId(r);
  const auto body = dto::ParseKnowledgeRestore(r.body);
  auto db = api.Db();
  const int made = api.flow.knowledge_review().Restore(*db, id, body.version, p.Actor(), body.note);
  return JsonResponse(200, {{"id", id}, {"version", made}, {"restored_from", body.version}});
}

Response ListKnowledgeProposals(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string state = StateQuery(r, {"open", "approved", "rejected"});
  auto db = api.Db();
  const auto rows = db->ExecOne("knowledge_proposals_list", {state, "", 200});
  json list = json::array();
  for (std::size_t i = 0; i < rows.Size(); ++i) list.push_back(ProposalJson(rows, i, false));
  return JsonResponse(200, {{"proposals", list}});
}

Response GetKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal&) {
  auto db = api.Db();
  return JsonResponse(200, ProposalById(*db, PathId(r, "id")));
}

Response ReplayKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal&) {
  const int64_t id = PathId(r, "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  api.flow.knowledge_review().Replay(*db, id);
  return JsonResponse(200, ProposalById(*db, id));
}

Response ApproveKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  api.flow.knowledge_review().Approve(*db, id, p.Actor());
  return JsonResponse(200, ProposalById(*db, id));
}

Response RejectKnowledgeProposal(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  const std::string note = dto::ParseNote(r.body);
  auto db = api.Db();
  api.flow.knowledge_review().Reject(*db, id, p.Actor(), note);
  return JsonResponse(200, ProposalById(*db, id));
}

Response ListKnowledgeConflicts(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string state = StateQuery(r, {"open", "resolved"});
  auto db = api.Db();
  return JsonResponse(
      200, {{"conflicts", ConflictsJson(db->ExecOne("knowledge_conflicts_list", {state}))}});
}

Response ResolveKnowledgeConflict(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const int64_t id = PathId(r, "id");
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  api.flow.knowledge_review().ResolveConflict(*db, id, p.Actor());
  return JsonResponse(200, {{"id", id}, {"state", "resolved"}});
}

Response PostKnowledgeReview(ApiServer::Impl& api, const Request& r, const Principal&) {
  dto::ParseEmptyOrObject(r.body);
  auto db = api.Db();
  const bool queued = api.flow.RequestReview(*db);
  return JsonResponse(202, {{"queued", queued}, {"pending_already", !queued}});
}

}  // namespace clubos::api
