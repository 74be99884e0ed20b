#include "workers/queue.h"

#include <stdexcept>

#include "store/db.h"

namespace clubos::workers {
namespace {

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                    c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void Validate(const EnqueueRequest& req) {
  if (!ValidName(req.kind))
    throw std::invalid_argument("job kind must match [a-z0-9_.:-]{1,64}: '" + req.kind + "'");
  if (!ValidName(req.queue) || req.queue.find(':') != std::string::npos)
    throw std::invalid_argument("queue must match [a-z0-9_.-]{1,64}: '" + req.queue + "'");
  if (req.args.size() > kMaxArgsBytes)
    throw std::invalid_argument("job args are " + std::to_string(req.args.size()) +
                                " bytes; the limit is " + std::to_string(kMaxArgsBytes));
  if (req.args.empty()) throw std::invalid_argument("job args must be JSON (use {} for none)");
  if (req.priority < 0 || req.priority > 1000)
    throw std::invalid_argument("priority must be within 0..1000");
  if (req.max_attempts < 1 || req.max_attempts > 1000)
    throw std::invalid_argument("max_attempts must be within 1..1000");
  if (req.unique_key && (req.unique_key->empty() || req.unique_key->size() > 512))
    throw std::invalid_argument("unique_key must be 1..512 bytes");
}

EnqueueResult Enqueue(store::Tx& tx, const EnqueueRequest& req, const Clock& clock) {
  Validate(req);
  auto r = tx.Exec(
      "job_enqueue",
      {req.queue, req.kind, req.args, req.priority, req.run_at, req.max_attempts, req.unique_key,
       req.key_mode == KeyMode::kReplace ? "replace" : "keep", clock.DbNow()});
  EnqueueResult out;
  out.id = r.At(0, "id").Int64();
  out.existed = r.At(0, "existed").Bool();
  out.scheduled = r.At(0, "state").Str() == "scheduled";
  // A scheduled job wakes no worker now, only the leader's timer; it notifies again on promotion.
  tx.Notify(kJobsChannel, out.scheduled ? kTimersPayload : req.queue);
  return out;
}

int64_t EnqueueMany(store::Tx& tx, const std::vector<EnqueueRequest>& reqs, const Clock& clock) {
  if (reqs.empty()) return 0;
  std::string array = "[";
  std::vector<std::string> queues;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& q = reqs[i];
    Validate(q);
    if (q.unique_key || q.run_at)
      throw std::invalid_argument("EnqueueMany takes neither unique keys nor run_at; use Enqueue");
    if (i) array += ',';
    // kind and queue are validated to [a-z0-9_.:-], so they need no JSON escaping.
    array += R"({"queue":")" + q.queue + R"(","kind":")" + q.kind + R"(","args":)" + q.args +
             R"(,"priority":)" + std::to_string(q.priority) + R"(,"max_attempts":)" +
             std::to_string(q.max_attempts) + "}";
    if (queues.empty() || queues.back() != q.queue) queues.push_back(q.queue);
  }
  array += ']';
  auto r = tx.Exec("job_enqueue_many", {array, clock.DbNow()});
  for (const auto& queue : queues) tx.Notify(kJobsChannel, queue);
  return static_cast<int64_t>(r.AffectedRows());
}

}  // namespace clubos::workers
