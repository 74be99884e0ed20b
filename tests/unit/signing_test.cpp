// Webhook signatures against the test vectors of shared/reference/integrations.md §7, plus every
// way a delivery can be wrong.
#include <gtest/gtest.h>

#include "integrations/signing.h"

using namespace clubos;
using namespace clubos::integrations;

namespace {

TimePoint AtMs(int64_t ms) {
  return TimePoint(std::chrono::milliseconds(ms));
}
const Millis kWindow(300'000);
const std::string kBody = R"({"id":"EV123","object":"event","type":"message.received"})";
const std::string kSecret = "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz";  // "signing-secret-for-tests"
const std::string kHeader = "hmac;1;1639710054089;PsdxDIDuYVS8jqycKnDo0gAhC9XKGVfTRDDI5Hr1CxE=";

}  // namespace

TEST(Base64, RoundTripsAndRefusesGarbage) {
  EXPECT_EQ(Base64Decode(kSecret), "signing-secret-for-tests");
  EXPECT_EQ(Base64Encode("signing-secret-for-tests"), kSecret);
  EXPECT_EQ(Base64Decode("YQ=="), "a");
  EXPECT_EQ(Base64Decode("YWI="), "ab");
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_FALSE(Base64Decode("abc"));
  EXPECT_FALSE(Base64Decode("ab!d"));
}

TEST(OpenPhoneLegacy, AcceptsTheReferenceVector) {
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody, kSecret, AtMs(1639710054089), kWindow),
            Verdict::kValid);
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody, kSecret, AtMs(1639710054089 + 299'000), kWindow),
            Verdict::kValid);
}

TEST(OpenPhoneLegacy, RefusesEveryWayADeliveryCanBeWrong) {
  const TimePoint now = AtMs(1639710054089);
  EXPECT_EQ(VerifyOpenPhoneLegacy("", kBody, kSecret, now, kWindow), Verdict::kMissing);
  EXPECT_EQ(VerifyOpenPhoneLegacy("hmac;1;1639710054089", kBody, kSecret, now, kWindow),
            Verdict::kMalformed);
  EXPECT_EQ(VerifyOpenPhoneLegacy("sha1;1;1639710054089;x", kBody, kSecret, now, kWindow),
            Verdict::kMalformed);
  EXPECT_EQ(VerifyOpenPhoneLegacy("hmac;1;soon;x", kBody, kSecret, now, kWindow),
            Verdict::kMalformed);
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody + " ", kSecret, now, kWindow),
            Verdict::kBadSignature)
      << "the raw body is signed byte for byte";
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody, "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3R0", now, kWindow),
            Verdict::kBadSignature);
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody, kSecret, AtMs(1639710054089 + 301'000), kWindow),
            Verdict::kStale)
      << "a replay after the window";
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody, kSecret, AtMs(1639710054089 - 301'000), kWindow),
            Verdict::kStale);
  EXPECT_EQ(VerifyOpenPhoneLegacy(kHeader, kBody, "not base64!", now, kWindow),
            Verdict::kBadSecret);
}

TEST(OpenPhoneLegacy, AcceptsTimestampsInSeconds) {
  const std::string sig =
      Base64Encode(HmacSha256("signing-secret-for-tests", "1639710054." + kBody));
  EXPECT_EQ(VerifyOpenPhoneLegacy("hmac;1;1639710054;" + sig, kBody, kSecret, AtMs(1639710054089),
                                  kWindow),
            Verdict::kValid);
}

TEST(StandardWebhook, AcceptsTheReferenceVectorAndRotatedKeys) {
  const std::string key = "whsec_" + kSecret;
  const std::string sig = "v1,1TpF4hESLgqyjMppVw1w34Qj3dNaGLkC0t12iRUBFdE=";
  const TimePoint now = AtMs(1776791112'000);
  EXPECT_EQ(VerifyStandardWebhook("msg_2Abc", "1776791112", sig, kBody, key, now, kWindow),
            Verdict::kValid);
  EXPECT_EQ(
      VerifyStandardWebhook("msg_2Abc", "1776791112", "v1,AAAA " + sig, kBody, key, now, kWindow),
      Verdict::kValid);
  EXPECT_EQ(VerifyStandardWebhook("msg_2Abd", "1776791112", sig, kBody, key, now, kWindow),
            Verdict::kBadSignature);
  EXPECT_EQ(VerifyStandardWebhook("msg_2Abc", "1776791112", "v2,xyz", kBody, key, now, kWindow),
            Verdict::kMalformed);
  EXPECT_EQ(VerifyStandardWebhook("msg_2Abc", "1776791112", "", kBody, key, now, kWindow),
            Verdict::kMissing);
  EXPECT_EQ(VerifyStandardWebhook("msg_2Abc", "1776791112", sig, kBody, key,
                                  AtMs(1776791112'000 + 400'000), kWindow),
            Verdict::kStale);
}

TEST(Slack, AcceptsTheReferenceVector) {
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const std::string body = "token=xyz&text=hello";
  const std::string sig = "v0=8e0a0e7ec0e1bc5e3b8a8be0bd6ff5b4a39eb5742e4cd10894d0ea9e351c6a4a";
  const TimePoint now = AtMs(1531420618'000);
  EXPECT_EQ(VerifySlack("1531420618", sig, body, secret, now, kWindow), Verdict::kValid);
  EXPECT_EQ(VerifySlack("1531420618", sig, body + "&x=1", secret, now, kWindow),
            Verdict::kBadSignature);
  EXPECT_EQ(VerifySlack("1531420618", "v1=abc", body, secret, now, kWindow), Verdict::kMalformed);
  EXPECT_EQ(VerifySlack("1531420618", sig, body, secret, AtMs(1531420618'000 + 600'000), kWindow),
            Verdict::kStale);
}

TEST(ConstantTimeEqual, ComparesLengthAndBytes) {
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
}
