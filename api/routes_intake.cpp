// What the world sends in: OpenPhone's webhook, generic inbound messages, and the bay agents.
#include "api/dto.h"
#include "api/internal.h"
#include "core/log.h"
#include "core/time_format.h"
#include "integrations/openphone.h"
#include "integrations/signing.h"
#include "workflows/agent.h"
#include "workflows/flow.h"

namespace clubos::api {
namespace {

// Beyond the statement timeout and the retries of a batch: an answer that never comes is a 503.
constexpr Millis kIntakeTimeout{30'000};

Response IntakeAnswer(const workflows::IntakeResult& in) {
  return JsonResponse(202, json{{"thread_id", in.thread_id},
                                {"message_id", in.message_id},
                                {"duplicate", in.duplicate}});
}

// Checks the webhook's signature over the raw body, before anything parses it.
void VerifyOpenPhone(ApiServer::Impl& api, const Request& r) {
  using integrations::Verdict;
  const TimePoint now = api.clock.Now();
  const Millis window = api.opt.webhook_replay_window;
  Verdict v;
  if (const auto legacy = r.Header("openphone-signature")) {
    if (api.opt.openphone_signing_secret.empty())
      throw ApiError(503, "not_configured",
                     "no OpenPhone signing secret is configured (CLUBOS_OPENPHONE_SIGNING_SECRET)");
    v = integrations::VerifyOpenPhoneLegacy(*legacy, r.body, api.opt.openphone_signing_secret, now,
                                            window);
  } else if (const auto signatures = r.Header("webhook-signature")) {
    if (api.opt.openphone_webhook_key.empty())
      throw ApiError(503, "not_configured",
                     "no OpenPhone webhook key is configured (CLUBOS_OPENPHONE_WEBHOOK_KEY)");
    v = integrations::VerifyStandardWebhook(r.Header("webhook-id").value_or(""),
                                            r.Header("webhook-timestamp").value_or(""), *signatures,
                                            r.body, api.opt.openphone_webhook_key, now, window);
  } else {
    throw ApiError(401, "missing_signature",
                   "the openphone-signature (or webhook-signature) header is required");
  }
  switch (v) {
    case Verdict::kValid:
      return;
    case Verdict::kStale:
      throw ApiError(401, "stale_signature",
                     "the signature's timestamp is outside the replay window");
    case Verdict::kBadSecret:
      log::Get()->error("the configured OpenPhone signing secret is not valid base64");
      throw ApiError(503, "not_configured", "the webhook secret is misconfigured");
    default:
      throw ApiError(401, "bad_signature",
                     std::string("the webhook signature is not valid: ") + ToString(v));
  }
}

std::string DeviceOf(ApiServer::Impl& api, const Request& r) {
  if (!api.agent) throw ApiError(503, "not_configured", "bay agents are not configured");
  const auto key = r.Header("x-device-key");
  if (!key || key->empty()) throw ApiError(401, "unauthorized", "missing X-Device-Key");
  api.CheckAuthThrottle(r);
  std::string device;
  try {
    device = api.agent->Authenticate(*key);
  } catch (const workflows::AgentAuthError&) {
    api.AuthFailed(r);
    throw;  // 401
  }
  api.Limit("agent:" + device);
  return device;
}

}  // namespace

Response PostOpenPhoneWebhook(ApiServer::Impl& api, const Request& r, const Principal&) {
  VerifyOpenPhone(api, r);
  const auto parsed = integrations::ParseOpenPhoneWebhook(r.body);
  if (!parsed.event) throw BadRequest(parsed.error);
  const auto& e = *parsed.event;
  // Deliveries, calls and our own outgoing messages are acknowledged and left alone.
  if (e.type != "message.received" || (!e.direction.empty() && e.direction != "incoming"))
    return JsonResponse(202, json{{"ignored", e.type}});
  if (e.message_id.empty()) throw BadRequest("the message has no id");
  // Deduplicated on the provider's message id: a redelivery gets the same answer.
  return IntakeAnswer(
      api.intake.Submit({e.from, e.to, e.text, e.message_id, "openphone"}, kIntakeTimeout));
}

Response PostMessage(ApiServer::Impl& api, const Request& r, const Principal& p) {
  const workflows::InboundMessage msg = dto::ParseMessage(r.body);
  return api.Idempotent(r, p, [&] { return IntakeAnswer(api.intake.Submit(msg, kIntakeTimeout)); });
}

Response GetAgentPoll(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string device = DeviceOf(api, r);
  auto db = api.Db();
  const auto cmd = api.agent->Poll(*db, device);
  json command = nullptr;
  if (cmd)
    command = {{"id", cmd->id},
               {"action", cmd->action},
               {"source", cmd->source},
               {"expires_at", FormatIso8601(cmd->expires_at)}};
  return JsonResponse(200, json{{"success", true}, {"command", command}});
}

Response PostAgentHeartbeat(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string device = DeviceOf(api, r);
  const workflows::AgentHeartbeat hb = dto::ParseHeartbeat(r.body, api.clock.Now());
  auto db = api.Db();
  api.agent->Heartbeat(*db, device, hb);
  return Response::Json(204, "");
}

Response PostAgentReport(ApiServer::Impl& api, const Request& r, const Principal&) {
  const std::string device = DeviceOf(api, r);
  const dto::Report report = dto::ParseReport(r.body);
  auto db = api.Db();
  if (!api.agent->Report(*db, device, report.command_id, report.success, report.message))
    throw ApiError(409, "not_claimed",
                   "command " + std::to_string(report.command_id) +
                       " is not a command this device holds (already reported, expired, or "
                       "another device's)");
  return Response::Json(204, "");
}

}  // namespace clubos::api
