// The strict parsers of untrusted text besides bodies and times: integers (core/text.h) and the
// paging cursors of the list routes (api/cursor.h).
#include <gtest/gtest.h>

#include <functional>

#include "api/cursor.h"
#include "api/errors.h"
#include "core/text.h"
#include "core/time_format.h"
#include "integrations/signing.h"

using namespace clubos;
using namespace clubos::api;

namespace {

TEST(Integers, StrictDecimalWithinInt64) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("42"), 42);
  EXPECT_EQ(ParseInt64("-7"), -7);
  EXPECT_EQ(ParseInt64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseInt64("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(ParseInt64("007"), 7);
  for (const char* bad :
       {"", "-", "--1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999", "4294967299x", "١"})
    EXPECT_FALSE(ParseInt64(bad)) << bad;
}

std::string Cursor(const std::string& plain) {
  std::string s = integrations::Base64Encode(plain);
  for (auto& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

int CursorStatus(const std::function<void()>& f) {
  try {
    f();
    return 0;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "bad_cursor");
    return e.status();
  }
}

TEST(Cursors, RoundTripAndRefuseWhatTheDatabaseWouldNot) {
  EXPECT_EQ(cursor::DecodeThreads(cursor::EncodeThreads(123)), 123);
  const cursor::EscalationKey k{5, TimePoint(std::chrono::microseconds(1'700'000'000'123'456)), 9};
  const auto back = cursor::DecodeEscalations(cursor::EncodeEscalations(k));
  EXPECT_EQ(back.priority, 5);
  EXPECT_EQ(back.escalated_at, k.escalated_at);
  EXPECT_EQ(back.thread_id, 9);
  // Each of these was a 500 at 850d4a5 (std::stoll threw, or Postgres refused the value).
  for (const char* bad : {"t1:-", "t1:--", "t1:9999999999999999999", "t1:", "t1:0", "t1:-5",
                          "t1:1:2", "t2:1", "x", ""})
    EXPECT_EQ(CursorStatus([&] { cursor::DecodeThreads(Cursor(bad)); }), 400) << bad;
  for (const char* bad :
       {"e1:-:1:1", "e1:1:1:-", "e1:99999999999:0:0", "e1:32768:0:1", "e1:1:-62135596800000001:1",
        "e1:1:253402300800000000:1", "e1:1:1", "e1:1:1:1:1", "e1:1::1", "e1:1:1:0"})
    EXPECT_EQ(CursorStatus([&] { cursor::DecodeEscalations(Cursor(bad)); }), 400) << bad;
  EXPECT_EQ(CursorStatus([] { cursor::DecodeThreads("dDE6LQ"); }), 400);  // "t1:-", the repro
  EXPECT_EQ(CursorStatus([] { cursor::DecodeThreads("not base64!"); }), 400);
  EXPECT_EQ(CursorStatus([] { cursor::DecodeThreads(std::string(300, 'A')); }), 400);
  EXPECT_EQ(cursor::DecodeEscalations(Cursor("e1:-32768:-62135596800000000:1")).priority, -32768);
}

}  // namespace
