// OperatorGPT in the flow: where the patterns are unsure, the `consult_llm` job (queue `llm`, its
// own executors, so a slow model cannot hold up intake, routing or execution) asks the model. It is
// two-phase like execution: what the call needs is read and committed first (the per-thread rate
// limit, the cache, the budget's reservation, the audit row), the call runs with no transaction or
// lock held, and its outcome is committed after (settling the budget, the audit row, the outage
// bookkeeping, and the decision). The model's answer is an intent; the policy judges it exactly as
// it judges a pattern's.
#include <cmath>

#include "core/log.h"
#include "core/text.h"
#include "core/time_zone.h"
#include "workers/queue.h"
#include "workflows/customer_texts.h"
#include "workflows/flow_steps.h"
#include "workflows/llm_router.h"

namespace clubos::workflows {

using nlohmann::json;
using workers::JobContext;
using workers::Outcome;

namespace {

json IntentJson(const Intent& in) {
  json j = {{"category", in.category},
            {"action", in.action},
            {"confidence", in.confidence},
            {"flags", in.flags},
            {"must_escalate", in.must_escalate},
            {"faq_topic", in.faq_topic},
            {"reply", in.reply}};
  j["bay"] = in.bay ? json(*in.bay) : json(nullptr);
  return j;
}

Intent IntentOf(const json& j) {
  Intent in;
  in.category = j.value("category", "");
  in.action = j.value("action", "");
  in.confidence = j.value("confidence", 0.0);
  in.flags = j.value("flags", std::vector<std::string>{});
  in.must_escalate = j.value("must_escalate", "");
  in.faq_topic = j.value("faq_topic", "");
  in.reply = j.value("reply", "");
  if (j.contains("bay") && j["bay"].is_number_integer()) in.bay = j["bay"].get<int>();
  return in;
}

bool OutageKind(ModelAnswer::Result r) {
  using R = ModelAnswer::Result;
  return r == R::kTimeout || r == R::kUnavailable || r == R::kRateLimited || r == R::kQuota ||
         r == R::kRejected;
}

}  // namespace

void SettleAbandonedCalls(store::Tx& tx, int64_t thread_id, TimePoint started_before) {
  auto r = tx.Exec("llm_calls_abandon", {thread_id, started_before});
  for (std::size_t i = 0; i < r.Size(); ++i)
    tx.Exec("llm_budget_settle",
            {r.At(i, "location").Str(), r.At(i, "budget_day").Str(),
             r.At(i, "reserved_tokens").Int64(), r.At(i, "reserved_tokens").Int64()});
}

ConsultStep::Prepared ConsultStep::Prepare(JobContext& ctx, int64_t thread_id) {
  Prepared p;
  ctx.db().Transact("consult_begin", [&](store::Tx& tx) {
    p = Prepared{};
    auto t = tx.Exec("thread_lock", {thread_id});
    if (t.Empty() || t.At(0, "state").Str() != tstate::kReceived || PausedNow(t, f_.clock))
      return ctx.CompleteInTx(tx);
    auto msgs =
        tx.Exec("messages_since", {thread_id, t.At(0, "last_routed_message_id").OptInt64()});
    if (msgs.Empty()) return ctx.CompleteInTx(tx);
    for (std::size_t i = 0; i < msgs.Size(); ++i) p.texts.push_back(msgs.At(i, "body").Str());
    p.last_id = msgs.At(msgs.Size() - 1, "id").Int64();
    const Location* location = f_.config.FindLocation(t.At(0, "location").Str());
    if (!location) throw std::runtime_error("thread location is not in the configuration");
    p.location = location;
    const TimePoint now = f_.clock.Now();
    const auto& llm = f_.config.integrations.llm;

    // A call of this thread still in flight: wait for it; one whose worker died: settle it.
    SettleAbandonedCalls(tx, thread_id, now - 2 * llm.deadline);
    if (auto flying = tx.Exec("llm_call_in_flight", {thread_id}); !flying.Empty()) {
      p.defer_until = flying.At(0, "created_at").Time() + 2 * llm.deadline;
      return;
    }

    p.snapshot = f_.knowledge.Current(tx);
    const FaqTable& faq = p.snapshot->Faq(location->id);
    p.patterns = f_.router.Route(p.texts, faq);
    const Intent& patterns = p.patterns;
    const Profile profile = f_.policy.Active(tx);
    const auto rules = profile.categories.find(patterns.category);
    const bool cheap = rules != profile.categories.end() && rules->second.use_cheaper_model;
    p.tier = cheap ? "cheap" : "strong";
    p.model = cheap ? llm.cheap_model : llm.strong_model;
    const Knowledge knowledge =
        KnowledgeFor(*location, f_.config, faq,
                     p.snapshot->AsHeld(RetrieveKnowledge(tx, location->id, Joined(p.texts))));
    p.knowledge_version = knowledge.version;
    p.request = RouteRequest(p.texts, knowledge, p.model, llm.max_tokens);
    p.cache_key = CacheKey(p.texts, p.model, knowledge.version);
    p.knowledge = knowledge.text;
    const std::string prompt_hash = Sha256Hex(p.request.system).substr(0, 16);
    const json request_j = {{"system", p.request.system}, {"user", p.request.user}};
    const std::vector<store::Param> row = {
        thread_id,   location->id,      p.model,     p.tier,   std::string(kRoutePromptVersion),
        prompt_hash, knowledge.version, p.cache_key, p.last_id};

    auto decide_without = [&](const std::string& why) {
      Intent in = patterns;
      in.unconsulted = why;
      routing_.Decide(tx, t, p.last_id, in, *location);
      ctx.CompleteInTx(tx);
    };
    // The endpoint is down and was probed a moment ago: no call, straight to a human.
    if (auto outage = tx.Exec("llm_outage_open_get"); !outage.Empty()) {
      if (outage.At(0, "last_probe_at").Time() + llm.outage_probe > now) {
        tx.Exec("llm_outage_escalated");
        return decide_without("llm_unavailable");
      }
      tx.Exec("llm_outage_probe", {outage.At(0, "id").Int64(), now});  // this call is the probe
    }
    // The same question, asked of the same model with the same knowledge: its answer, free.
    if (auto hit = tx.Exec("llm_cache_get", {p.cache_key, now}); !hit.Empty()) {
      Intent in = IntentOf(json::parse(hit.At(0, "intent").Str()));
      in.router = "cache";
      std::vector<store::Param> cached = row;
      cached.push_back(request_j.dump());
      cached.push_back(hit.At(0, "intent").Str());
      in.llm_call_id = tx.Exec("llm_call_cached", cached).At(0, "id").Int64();
      routing_.Decide(tx, t, p.last_id, in, *location);
      return ctx.CompleteInTx(tx);
    }
    // One call per thread per interval: a routing that would exceed it runs again later.
    const auto last = tx.Exec("llm_last_call_at", {thread_id}).At(0, "at").OptTime();
    const auto interval = std::chrono::seconds(profile.limits.llm_min_interval_seconds);
    if (last && *last + interval > now) {
      p.defer_until = *last + interval;
      return;
    }
    // The budget: reserved under the location's row lock, so concurrent routings take turns and
    // none can pass the cap; settled with the real usage after the call.
    const std::string day = TimeZone::Load(location->time_zone)->LocalDate(now);
    const int64_t estimate = EstimatedTokens(p.request);
    tx.Exec("llm_budget_lock", {location->id, day});
    const auto use = tx.Exec("llm_budget_use", {location->id, day});
    const int64_t today = use.At(0, "today").Int64(), month = use.At(0, "month").Int64();
    const Limits& caps = profile.limits;
    if ((caps.tokens_per_location_day > 0 && today + estimate > caps.tokens_per_location_day) ||
        (caps.tokens_per_location_month > 0 && month + estimate > caps.tokens_per_location_month)) {
      return decide_without("budget_exhausted");
    }
    tx.Exec("llm_budget_reserve", {location->id, day, estimate});
    std::vector<store::Param> pending = row;
    pending.push_back(estimate);
    pending.push_back(day);
    pending.push_back(request_j.dump());
    p.call_id = tx.Exec("llm_call_insert", pending).At(0, "id").Int64();
    p.reserved = estimate;
    p.budget_day = day;
  });
  return p;
}

Outcome ConsultStep::Consult(JobContext& ctx) {
  const int64_t thread_id = ArgId(ctx, "thread_id");
  const Prepared p = Prepare(ctx, thread_id);
  if (p.defer_until)
    return Outcome::DeferUntil(*p.defer_until, "llm: one call per thread at a time");
  if (!p.call_id) return Outcome::Complete();  // decided (or nothing to do) in the first phase

  // No transaction, no lock: the model may take its time; nothing else waits for it.
  const auto deadline = std::chrono::steady_clock::now() + f_.config.integrations.llm.deadline;
  ModelAnswer answer;
  try {
    answer = f_.model->Complete(p.request, deadline);
  } catch (const std::exception& e) {
    answer.result = ModelAnswer::Result::kUnavailable;
    answer.detail = e.what();
  }
  Finish(ctx, p, answer);
  return Outcome::Complete();
}

void ConsultStep::Finish(JobContext& ctx, const Prepared& p, const ModelAnswer& answer) {
  const auto& llm = f_.config.integrations.llm;
  const int64_t thread_id = ArgId(ctx, "thread_id");
  std::optional<Intent> intent;
  std::string error = answer.detail, outcome = ToString(answer.result), guard;
  json response = nullptr;
  if (answer.result == ModelAnswer::Result::kOk) {
    response = json::parse(answer.content, nullptr, false);
    if (response.is_discarded()) response = answer.content.substr(0, 2'000);
    std::string why;
    intent = IntentFromAnswer(answer.content, p.snapshot->Faq(p.location->id), p.texts, &why);
    if (!intent) {
      outcome = "malformed";
      error = why;
    } else if (!intent->reply.empty()) {
      const auto figures = UngroundedFigures(intent->reply, p.knowledge);
      if (!figures.empty()) {
        std::string list;
        for (const auto& f : figures) list += (list.empty() ? "" : ", ") + f;
        guard = "the drafted reply quotes " + list + ", which the knowledge it was given does not";
        intent->must_escalate = "ungrounded_answer";
        intent->action.clear();
        intent->flags.push_back("guard:ungrounded:" + list);
      }
    }
  }
  const auto price = llm.price_per_mtok.find(p.model);
  const double cost = price == llm.price_per_mtok.end()
                          ? 0.0
                          : (static_cast<double>(answer.tokens_in) * price->second.first +
                             static_cast<double>(answer.tokens_out) * price->second.second) /
                                1e6;

  ctx.db().Transact("consult_end", [&](store::Tx& tx) {
    auto t = tx.Exec("thread_lock", {thread_id});
    const TimePoint now = f_.clock.Now();
    const bool fresh =
        !t.Empty() && t.At(0, "state").Str() == tstate::kReceived && !PausedNow(t, f_.clock) &&
        t.At(0, "last_routed_message_id").OptInt64() < std::optional<int64_t>(p.last_id);
    const bool newer =
        fresh &&
        tx.Exec("messages_since", {thread_id, std::optional<int64_t>(p.last_id)}).Size() > 0;
    std::string final_outcome = outcome;
    if (intent && newer) final_outcome = "superseded";  // answered texts the customer added to
    auto finished =
        tx.Exec("llm_call_finish",
                {*p.call_id, final_outcome, answer.tokens_in, answer.tokens_out, cost,
                 static_cast<int64_t>(answer.latency.count()), answer.attempts,
                 answer.status ? std::optional<int64_t>(answer.status) : std::nullopt,
                 answer.request_id.empty() ? std::nullopt : std::optional(answer.request_id),
                 response.is_null() ? std::nullopt : std::optional(response.dump()),
                 error.empty() ? std::nullopt : std::optional(error.substr(0, 500)),
                 guard.empty() ? std::nullopt : std::optional(guard)});
    if (finished.Empty()) return ctx.CompleteInTx(tx);  // settled already (taken as abandoned)
    tx.Exec("llm_budget_settle",
            {p.location->id, p.budget_day, p.reserved, answer.tokens_in + answer.tokens_out});
    Outage(tx, answer, thread_id, p.location->id, now);
    if (intent && !newer && intent->action == "answer" && guard.empty())
      tx.Exec("llm_cache_put",
              {p.cache_key, IntentJson(*intent).dump(), p.model, *p.call_id, now + llm.cache_ttl});
    if (!fresh) return ctx.CompleteInTx(tx);  // taken over, answered by hand, or moved on
    if (newer) {
      // The customer wrote more meanwhile: route everything they wrote, afresh.
      workers::Enqueue(tx,
                       {.kind = kRouteMessage,
                        .args = json{{"thread_id", thread_id}}.dump(),
                        .unique_key = "route_message:consult:" + std::to_string(*p.call_id)},
                       f_.clock);
      return ctx.CompleteInTx(tx);
    }
    Intent in;
    if (intent) {
      in = *intent;
    } else {
      in = p.patterns;  // the patterns' own view, unsure as it was
      in.unconsulted = "llm_unavailable";
      in.flags.push_back("llm:" + outcome);
      if (OutageKind(answer.result)) tx.Exec("llm_outage_escalated");
    }
    in.llm_call_id = *p.call_id;
    routing_.Decide(tx, t, p.last_id, in, *p.location);
    ctx.CompleteInTx(tx);
  });
}

// The endpoint failed (timeout, 5xx, out of quota, refused the key): the first failure opens an
// outage and tells the operators once; the first success after closes it and says so.
void ConsultStep::Outage(store::Tx& tx, const ModelAnswer& answer, int64_t thread_id,
                         const std::string& location, TimePoint now) {
  auto notify = [&](const std::string& text) {
    routing_.CreateAction(tx, {.thread_id = 0,
                               .kind = "notify_operator",
                               .target = json{{"location", location}}.dump(),
                               .params = json{{"role", "degraded"}, {"text", text}}.dump(),
                               .triggered_by = "chain",
                               .reason = "OperatorGPT degraded service notice",
                               .decision = json{{"outcome", "execute"}}.dump(),
                               .outcome = "execute",
                               .priority = 50});
  };
  if (OutageKind(answer.result)) {
    auto r = tx.Exec("llm_outage_failed", {std::string(ToString(answer.result)), now});
    if (r.At(0, "opened").Bool()) {
      tx.AfterCommit([result = std::string(ToString(answer.result)), detail = answer.detail] {
        log::Get()->warn("llm: the model endpoint failed ({}: {}); degraded to patterns only",
                         result, detail);
      });
      notify("ClubOS degraded: the model endpoint failed (" + std::string(ToString(answer.result)) +
             ": " + answer.detail.substr(0, 200) + ", thread " + std::to_string(thread_id) +
             "). Patterns still route; texts they cannot place go to the inbox as "
             "llm_unavailable until it answers again.");
    }
  } else if (answer.result == ModelAnswer::Result::kOk) {
    auto r = tx.Exec("llm_outage_close", {now});
    if (!r.Empty()) {
      tx.AfterCommit(
          [] { log::Get()->info("llm: the model endpoint answers again; the outage is over"); });
      const auto lasted =
          std::chrono::duration_cast<std::chrono::seconds>(now - r.At(0, "started_at").Time());
      const std::string took = lasted.count() < 120 ? std::to_string(lasted.count()) + " s"
                                                    : std::to_string(lasted.count() / 60) + " min";
      const int64_t texts = r.At(0, "texts_escalated").Int64();
      notify("ClubOS recovered: the model endpoint answers again after " + took + "; " +
             std::to_string(texts) + (texts == 1 ? " text" : " texts") +
             " went to the inbox meanwhile.");
    }
  }
}

}  // namespace clubos::workflows
