// The API's pure parts: tokens and roles, the rate limiter, the Prometheus text format, request
// bodies and ISO times, and the masking of phone numbers in logged text.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "api/auth.h"
#include "api/dto.h"
#include "api/errors.h"
#include "api/internal.h"
#include "api/metrics.h"
#include "core/time_format.h"

using namespace clubos;
using namespace clubos::api;

namespace {

constexpr const char* kSvc = "svc-0123456789abcdef";
constexpr const char* kOp = "op-0123456789abcdef";
constexpr const char* kAdm = "adm-0123456789abcdef";

int StatusOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status();
  }
  return 0;
}

}  // namespace

TEST(Tokens, ParsesRolesNamesCommentsAndLines) {
  const auto set = TokenSet::Parse(std::string("service:") + kSvc + ", operator:alice:" + kOp +
                                       "\n# the admins\nadmin:" + kAdm + "  # root\n",
                                   TokenSource::kFile);
  EXPECT_EQ(set.size(), 3u);
  const auto svc = set.Find(kSvc);
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->role, Role::kService);
  EXPECT_EQ(svc->Actor(), "service:service");
  const auto op = set.Find(kOp);
  ASSERT_TRUE(op);
  EXPECT_EQ(op->Actor(), "operator:alice");
  const auto adm = set.Find(kAdm);
  ASSERT_TRUE(adm);
  EXPECT_EQ(adm->Actor(), "operator:admin") << "an admin acts as an operator named after the role";
  EXPECT_FALSE(set.Find("nope-0123456789abcdef"));
  EXPECT_FALSE(set.Find(""));
  EXPECT_FALSE(set.Find(std::string(kOp) + "x"));
}

TEST(Tokens, RefusesMalformedEntriesWithoutNamingTheSecret) {
  for (const std::string bad :
       {"operator", "boss:0123456789abcdef", "operator:short", "operator:bad name:0123456789abcdef",
        "operator:0123456789abcdef,admin:0123456789abcdef"}) {
    try {
      TokenSet::Parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const TokenError& e) {
      EXPECT_EQ(std::string(e.what()).find("0123456789abcdef"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(TokenSet::Parse(" , \n# nothing\n", TokenSource::kFile).empty());
}

// A `#` inside a token is part of it, in both forms: at 850d4a5 the prefix before it
// authenticated, the whole token did not, and every later entry vanished (defect L8).
TEST(Tokens, AHashInsideATokenIsPartOfItInTheVariableAndInTheFile) {
  const std::string spec =
      "operator:ana:0123456789abcdef#secret-suffix-xyz,admin:root:fedcba9876543210fedcba";
  for (auto source : {TokenSource::kVariable, TokenSource::kFile}) {
    const auto set = TokenSet::Parse(spec, source);
    EXPECT_EQ(set.size(), 2u);
    EXPECT_TRUE(set.Find("0123456789abcdef#secret-suffix-xyz"));
    EXPECT_FALSE(set.Find("0123456789abcdef")) << "the prefix is not a token";
    ASSERT_TRUE(set.Find("fedcba9876543210fedcba")) << "the later entry is kept";
    EXPECT_EQ(set.Find("fedcba9876543210fedcba")->role, Role::kAdmin);
  }
  // In the file, one token per line with a `#` inside; comments at a line's start or after a blank.
  const auto file = TokenSet::Parse(
      "# operators\noperator:ana:0123456789abcdef#xyz   # ana's\n  # indented comment\n"
      "admin:root:fedcba9876543210fedcba\n",
      TokenSource::kFile);
  EXPECT_EQ(file.size(), 2u);
  EXPECT_TRUE(file.Find("0123456789abcdef#xyz"));
  // The variable has no comments: what looks like one is a malformed entry, refused at start-up.
  try {
    TokenSet::Parse("operator:ana:0123456789abcdef # ana", TokenSource::kVariable);
    ADD_FAILURE() << "a blank inside an entry was accepted";
  } catch (const TokenError& e) {
    EXPECT_NE(std::string(e.what()).find("no comments"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("0123456789abcdef"), std::string::npos) << e.what();
  }
  EXPECT_THROW(TokenSet::Parse("# operator:ana:0123456789abcdef", TokenSource::kVariable),
               TokenError);
}

// The two forms as serve reads them: CLUBOS_API_TOKENS, else the file CLUBOS_API_TOKENS_FILE.
TEST(Tokens, TheEnvironmentVariableAndTheFileAreReadAsTheirForms) {
  const std::string path = ::testing::TempDir() + "clubos-tokens-test";
  {
    std::ofstream f(path);
    f << "# ops\noperator:ana:0123456789abcdef#xyz # ana\n";
  }
  ::unsetenv("CLUBOS_API_TOKENS");
  ::setenv("CLUBOS_API_TOKENS_FILE", path.c_str(), 1);
  auto set = TokenSet::FromEnvironment();
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.Find("0123456789abcdef#xyz"));
  ::setenv("CLUBOS_API_TOKENS", "operator:ana:0123456789abcdef#xyz,admin:fedcba9876543210", 1);
  set = TokenSet::FromEnvironment();
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.Find("0123456789abcdef#xyz"));
  EXPECT_TRUE(set.Find("fedcba9876543210"));
  ::unsetenv("CLUBOS_API_TOKENS");
  ::unsetenv("CLUBOS_API_TOKENS_FILE");
  std::remove(path.c_str());
}

TEST(Tokens, AdminIncludesOperatorAndServiceIsSeparate) {
  const Principal svc{Role::kService, "s"}, op{Role::kOperator, "o"}, adm{Role::kAdmin, "a"},
      dev{Role::kDev, "dev"};
  EXPECT_TRUE(svc.Has(Role::kService));
  EXPECT_FALSE(svc.Has(Role::kOperator));
  EXPECT_FALSE(op.Has(Role::kService));
  EXPECT_FALSE(op.Has(Role::kAdmin));
  EXPECT_TRUE(adm.Has(Role::kOperator));
  EXPECT_TRUE(adm.Has(Role::kAdmin));
  EXPECT_FALSE(adm.Has(Role::kService));
  for (Role r : {Role::kService, Role::kOperator, Role::kAdmin}) EXPECT_TRUE(dev.Has(r));
}

TEST(RateLimit, ABurstThenTheSustainedRateWithRetryAfter) {
  RateLimiter limiter(10, 3);  // 10/s, 3 at once
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a", t0)) << i;
  const auto wait = limiter.Take("a", t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, Millis(100));
  EXPECT_FALSE(limiter.Take("b", t0)) << "each key has its own bucket";
  EXPECT_FALSE(limiter.Take("a", t0 + Millis(100))) << "one unit back after 1/rate";
  EXPECT_TRUE(limiter.Take("a", t0 + Millis(100)));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a", t0 + Millis(60'000))) << i;
  EXPECT_TRUE(limiter.Take("a", t0 + Millis(60'000))) << "the bucket holds no more than the burst";
  EXPECT_FALSE(RateLimiter(0, 1).Take("x", t0)) << "rate 0: no limit";
}

TEST(Metrics, TheTextFormat) {
  metrics::Registry reg;
  auto& c = reg.AddCounter("t_requests_total", "Requests.\nAll of them", {"route", "status"});
  c.With({"/a", "200"}).Inc();
  c.With({"/a", "200"}).Inc(2);
  c.With({"/q\"\\\n", "500"}).Inc();
  auto& g = reg.AddGauge("t_depth", "Depth");
  g.With({}).Set(0.25);
  auto& h = reg.AddHistogram("t_seconds", "Latency", {"route"}, {0.005, 0.1, 1});
  h.With({"/a"}).Observe(0.005);
  h.With({"/a"}).Observe(0.05);
  h.With({"/a"}).Observe(5);
  reg.AddCollector([](metrics::TextWriter& w) {
    w.Family("t_collected", "From a collector", "gauge");
    w.Sample("t_collected", {"q"}, {"default"}, 7);
  });
  EXPECT_EQ(reg.Render(),
            "# HELP t_requests_total Requests.\\nAll of them\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{route=\"/a\",status=\"200\"} 3\n"
            "t_requests_total{route=\"/q\\\"\\\\\\n\",status=\"500\"} 1\n"
            "# HELP t_depth Depth\n"
            "# TYPE t_depth gauge\n"
            "t_depth 0.25\n"
            "# HELP t_seconds Latency\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"
            "t_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
            "t_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
            "t_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
            "t_seconds_sum{route=\"/a\"} 5.055\n"
            "t_seconds_count{route=\"/a\"} 3\n"
            "# HELP t_collected From a collector\n"
            "# TYPE t_collected gauge\n"
            "t_collected{q=\"default\"} 7\n");
}

TEST(Metrics, NumbersAreSpelledAsTheFormatWants) {
  EXPECT_EQ(metrics::FormatValue(0), "0");
  EXPECT_EQ(metrics::FormatValue(12345678), "12345678");
  EXPECT_EQ(metrics::FormatValue(0.001), "0.001");
  EXPECT_EQ(metrics::FormatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(metrics::FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(metrics::FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(metrics::FormatValue(std::nan("")), "NaN");
}

TEST(Bodies, AMessage) {
  const auto m =
      dto::ParseMessage(R"({"from":"+15555550100","to":"+15555550199","body":"hi","x":1})");
  EXPECT_EQ(m.from, "+15555550100");
  EXPECT_EQ(m.to, "+15555550199");
  EXPECT_EQ(m.body, "hi");
  EXPECT_EQ(m.external_id, "");
  EXPECT_EQ(dto::ParseMessage(R"({"from":"a","to":"b","body":"c","external_id":"E1"})").external_id,
            "E1");
  for (const char* bad : {"", "nope", "[]", "{", R"({"to":"b","body":"c"})",
                          R"({"from":1,"to":"b","body":"c"})", R"({"from":"a","to":"b","body":""})",
                          R"({"from":"a","to":"b","body":"c","external_id":5})"})
    EXPECT_EQ(StatusOf([&] { dto::ParseMessage(bad); }), 400) << bad;
}

TEST(Bodies, AnAction) {
  const auto a = dto::ParseAction(
      R"({"kind":"reset_trackman","target":{"location":"bedford","bay":3},"reason":"SOP x",)"
      R"("thread_id":7,"booking_id":null,"human_override":true})");
  EXPECT_EQ(a.kind, "reset_trackman");
  EXPECT_EQ(a.target, R"({"bay":3,"location":"bedford"})");
  EXPECT_EQ(a.reason, "SOP x");
  EXPECT_EQ(a.thread_id, 7);
  EXPECT_FALSE(a.booking_id);
  EXPECT_TRUE(a.human_override);
  EXPECT_TRUE(a.triggered_by.empty()) << "who triggers is the caller, not the body";
  for (const char* bad :
       {R"({"target":{},"reason":"r"})", R"({"kind":"k","target":"bay 3","reason":"r"})",
        R"({"kind":"k","target":{},"reason":"r","thread_id":"7"})",
        R"({"kind":"k","target":{},"reason":"r","thread_id":-1})",
        R"({"kind":"k","target":{},"reason":"r","thread_id":1.5})",
        R"({"kind":"k","target":{},"reason":"r","thread_id":99999999999999999999})",
        R"({"kind":"k","target":{},"reason":"r","thread_id":9223372036854775808})",
        // A bay int cannot hold: 4294967298 reset bay 2 at 850d4a5 (defect L2).
        R"({"kind":"k","target":{"bay":4294967298},"reason":"r"})",
        R"({"kind":"k","target":{"bay":-2147483649},"reason":"r"})",
        R"({"kind":"k","target":{"bay":2.5},"reason":"r"})",
        R"({"kind":"k","target":{"bay":"2"},"reason":"r"})", R"({"kind":"k","target":{}})"})
    EXPECT_EQ(StatusOf([&] { dto::ParseAction(bad); }), 400) << bad;
  EXPECT_EQ(dto::ParseAction(R"({"kind":"k","target":{"bay":2147483647},"reason":"r"})").target,
            R"({"bay":2147483647})");
  EXPECT_EQ(
      dto::ParseAction(R"({"kind":"k","target":{},"reason":"r","thread_id":9223372036854775807})")
          .thread_id,
      INT64_MAX);
}

TEST(Bodies, IntegersAreRangeCheckedNeverWrapped) {
  const auto j = json::parse(
      R"({"a":5,"big":4294967299,"neg":-1,"huge":18446744073709551615,"f":2.0,"s":"5","n":null})");
  EXPECT_EQ(dto::Integer(j, "a", 1, 10), 5);
  EXPECT_EQ(dto::Integer(j, "n", 1, 10), std::nullopt);
  EXPECT_EQ(dto::Integer(j, "missing", 1, 10), std::nullopt);
  EXPECT_EQ(dto::Integer(j, "big", 1, INT64_MAX), 4294967299);
  EXPECT_EQ(dto::Integer(j, "neg", INT32_MIN, INT32_MAX), -1);
  for (const char* key : {"big", "neg", "huge", "f", "s"})
    EXPECT_EQ(StatusOf([&] { dto::Integer(j, key, 1, INT32_MAX); }), 400) << key;
  EXPECT_EQ(StatusOf([&] { dto::Integer(j, "huge", INT64_MIN, INT64_MAX); }), 400);
}

TEST(Bodies, DeepNestingIsRefusedBeforeParsing) {
  auto nested = [](int n) {
    return R"({"kind":"k","reason":"r","target":)" + [&] {
      std::string s;
      for (int i = 0; i < n; ++i) s += R"({"a":)";
      s += "1";
      for (int i = 0; i < n; ++i) s += "}";
      return s;
    }() + "}";
  };
  EXPECT_EQ(StatusOf([&] { dto::ParseAction(nested(30)); }), 0);
  EXPECT_EQ(StatusOf([&] { dto::ParseAction(nested(32)); }), 400);
  EXPECT_EQ(StatusOf([&] { dto::ParseAction(nested(20'000)); }), 400);
  // Brackets inside strings are text, not nesting.
  EXPECT_EQ(
      StatusOf([] {
        dto::ParseAction(
            R"({"kind":"k","reason":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[","target":{}})");
      }),
      0);
}

const TimePoint kServerNow = *ParseTimestamp("2026-02-01T12:00:00Z");

TEST(Bodies, AgentHeartbeatAndReport) {
  const auto hb =
      dto::ParseHeartbeat(R"({"tps_version":"4.1","tps_running":true,"radar_reachable":false,)"
                          R"("tps_started_at":"2026-01-31T08:00:00Z","booted_at":null})",
                          kServerNow);
  EXPECT_EQ(hb.tps_version, "4.1");
  EXPECT_TRUE(hb.tps_running);
  EXPECT_FALSE(hb.radar_reachable);
  ASSERT_TRUE(hb.tps_started_at);
  EXPECT_EQ(FormatIso8601(*hb.tps_started_at), "2026-01-31T08:00:00.000000Z");
  EXPECT_FALSE(hb.booted_at);
  EXPECT_EQ(StatusOf([] {
              dto::ParseHeartbeat(R"({"tps_version":"4","tps_running":1,"radar_reachable":true})",
                                  kServerNow);
            }),
            400);
  EXPECT_EQ(
      StatusOf([] {
        dto::ParseHeartbeat(
            R"({"tps_version":"4","tps_running":true,"radar_reachable":true,"booted_at":"yesterday"})",
            kServerNow);
      }),
      400);
  // A time from the future is refused (defect L11): beyond kMaxAgentClockSkew of the server's
  // clock; within it, a clock a little ahead is accepted.
  auto with = [](const char* key, const char* at) {
    return std::string(R"({"tps_version":"4","tps_running":true,"radar_reachable":true,")") + key +
           R"(":")" + at + R"("})";
  };
  for (const char* key : {"tps_started_at", "booted_at"}) {
    EXPECT_EQ(StatusOf([&] { dto::ParseHeartbeat(with(key, "2099-01-01T00:00:00Z"), kServerNow); }),
              400)
        << key;
    EXPECT_EQ(StatusOf([&] { dto::ParseHeartbeat(with(key, "2026-02-01T12:01:01Z"), kServerNow); }),
              400)
        << key;
    EXPECT_EQ(StatusOf([&] { dto::ParseHeartbeat(with(key, "2026-02-01T12:01:00Z"), kServerNow); }),
              0)
        << key;
    EXPECT_EQ(StatusOf([&] { dto::ParseHeartbeat(with(key, "2026-02-01T12:00:30"), kServerNow); }),
              400)
        << key << " without a zone";
  }
  const auto rep = dto::ParseReport(R"({"command_id":42,"success":true,"message":"ok"})");
  EXPECT_EQ(rep.command_id, 42);
  EXPECT_TRUE(rep.success);
  EXPECT_EQ(rep.message, "ok");
  EXPECT_EQ(StatusOf([] { dto::ParseReport(R"({"success":true})"); }), 400);
}

TEST(Bodies, ResolveRollbackAndEmpty) {
  const auto r = dto::ParseResolve(R"({"resolution":"refunded","note":"called them"})");
  EXPECT_EQ(r.resolution, "refunded");
  EXPECT_EQ(r.note, "called them");
  EXPECT_EQ(StatusOf([] { dto::ParseResolve(R"({"note":"n"})"); }), 400);
  EXPECT_EQ(dto::ParseFlagRollback(R"({"reason":"wrong bay"})"), "wrong bay");
  EXPECT_EQ(StatusOf([] { dto::ParseFlagRollback("{}"); }), 400);
  EXPECT_EQ(StatusOf([] { dto::ParseEmptyOrObject(" \n"); }), 0);
  EXPECT_EQ(StatusOf([] { dto::ParseEmptyOrObject("{}"); }), 0);
  EXPECT_EQ(StatusOf([] { dto::ParseEmptyOrObject("[1]"); }), 400);
}

TEST(Redaction, PhoneNumbersInLoggedTextAreMasked) {
  EXPECT_EQ(RedactPhones("Key (from_phone)=(+15555550100) exists; id 42"),
            "Key (from_phone)=(***0100) exists; id 42");
  EXPECT_EQ(RedactPhones("15555550100 and +1555"), "***0100 and +1555");
  EXPECT_EQ(RedactPhones(""), "");
}

// The one error mapping: what the database refused about a value (SQLSTATE class 22) is the
// caller's 400, a unique violation (two requests racing, e.g. two approvals) a 409; neither
// answers with the database's own words. Other database errors stay 500.
TEST(ErrorMapping, DataExceptionsAre400AndUniqueViolations409) {
  auto answer = [](const std::exception_ptr& e) {
    Request r;
    r.method = "POST";
    r.route = "/v1/test";
    try {
      std::rethrow_exception(e);
    } catch (...) {
      return ErrorResponse(r);
    }
  };
  const std::string secret = "column \"start_at\" of relation bookings";
  for (const char* state : {"22003", "22007", "22008", "22P02", "22021"}) {
    const auto res = answer(std::make_exception_ptr(store::DbError(secret, state)));
    EXPECT_EQ(res.status, 400) << state;
    EXPECT_EQ(json::parse(res.body)["error"]["code"], "bad_request");
    EXPECT_EQ(res.body.find("start_at"), std::string::npos);
  }
  auto res = answer(std::make_exception_ptr(store::ConstraintViolation(secret, "23505")));
  EXPECT_EQ(res.status, 409);
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "conflict");
  EXPECT_EQ(res.body.find("start_at"), std::string::npos);
  EXPECT_EQ(answer(std::make_exception_ptr(store::ConstraintViolation(secret, "23503"))).status,
            500);
  EXPECT_EQ(answer(std::make_exception_ptr(store::DbError(secret, "42P01"))).status, 500);
  EXPECT_EQ(answer(std::make_exception_ptr(store::DbError(secret, "57014"))).status, 503);
}
