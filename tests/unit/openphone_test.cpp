// OpenPhone webhook payloads in every shape the reference page documents, and malformed ones.
#include <gtest/gtest.h>

#include "integrations/openphone.h"

using clubos::integrations::ParseOpenPhoneWebhook;

namespace {

// A real legacy delivery (apiVersion v3, `body`, `to` a string), as ClubOS captured it.
const char* kLegacyV3 =
    R"({"id":"EVf437ff6b8a924f6c905c55667f0c3860","object":"event","apiVersion":"v3",
  "createdAt":"2025-10-02T16:56:29.541Z","type":"message.received","data":{"object":{"id":"AC123",
  "object":"message","from":"+15555550100","to":"+15555550199","direction":"incoming",
  "body":"the trackman in bay 2 is frozen","media":[],"status":"received","createdAt":"2025-10-02T16:56:25.802Z",
  "userId":"US5pWhhg5r","phoneNumberId":"PNsrXButS8","conversationId":"CN1"}}})";

}  // namespace

TEST(OpenPhoneWebhook, ParsesTheLegacyV3Delivery) {
  const auto r = ParseOpenPhoneWebhook(kLegacyV3);
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(r.event->event_id, "EVf437ff6b8a924f6c905c55667f0c3860");
  EXPECT_EQ(r.event->type, "message.received");
  EXPECT_EQ(r.event->message_id, "AC123");
  EXPECT_EQ(r.event->from, "+15555550100");
  EXPECT_EQ(r.event->to, "+15555550199");
  EXPECT_EQ(r.event->text, "the trackman in bay 2 is frozen");
  EXPECT_EQ(r.event->direction, "incoming");
}

TEST(OpenPhoneWebhook, ParsesTheV4TextVariantTheWrappedFormAndTheNewEnvelope) {
  const auto v4 = ParseOpenPhoneWebhook(
      R"({"id":"EV1","object":"event","apiVersion":"v4","type":"message.received","data":{"object":{"id":"AC2",
      "object":"message","from":"+15555550100","to":["+15555550199"],"direction":"incoming","text":"test"}}})");
  ASSERT_TRUE(v4.event) << v4.error;
  EXPECT_EQ(v4.event->text, "test");
  EXPECT_EQ(v4.event->to, "+15555550199");
  const auto wrapped = ParseOpenPhoneWebhook(std::string(R"({"object":)") + kLegacyV3 + "}");
  ASSERT_TRUE(wrapped.event) << wrapped.error;
  EXPECT_EQ(wrapped.event->message_id, "AC123");
  const auto fresh = ParseOpenPhoneWebhook(
      R"({"id":"EV3","apiVersion":"2026-03-30","type":"message.received","data":{"resource":{"id":"AC3",
      "from":"+15555550100","to":"+15555550199","text":"hola"},"context":{},"links":{}}})");
  ASSERT_TRUE(fresh.event) << fresh.error;
  EXPECT_EQ(fresh.event->text, "hola");
}

TEST(OpenPhoneWebhook, OtherEventTypesParseForTheCallerToIgnore) {
  const auto r = ParseOpenPhoneWebhook(
      R"({"id":"EV4","object":"event","type":"message.delivered","data":{"object":{"id":"AC4","direction":"outgoing"}}})");
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(r.event->type, "message.delivered");
}

TEST(OpenPhoneWebhook, RefusesMalformedBodiesWithAReason) {
  for (const char* bad :
       {"", "not json", "[]", R"({"id":"EV"})", R"({"id":"EV","type":"message.received"})",
        R"({"id":"EV","type":"message.received","data":{}})",
        R"({"id":"EV","type":"message.received","data":{"object":{"id":"AC","to":"+1555"}}})",
        R"({"id":7,"type":"message.received","data":{"object":{}}})"}) {
    const auto r = ParseOpenPhoneWebhook(bad);
    EXPECT_FALSE(r.event) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
}
