// The request framing the server applies before Pistache parses anything (http/http_framing.h),
// and the rule of the http/ room: the only code that includes Pistache.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "http/http_framing.h"
#include "tests/support/source_file.h"

using namespace clubos;
using http::Frame;
using http::NextRequest;

namespace {

const http::FramingLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 100};

TEST(Framing, OneWholeRequestAtATime) {
  const std::string get = "GET /v1/threads?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string post = "POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
  Frame f = NextRequest(get + post, kLimits);
  ASSERT_EQ(f.kind, Frame::Kind::kRequest);
  EXPECT_EQ(f.skip, 0u);
  EXPECT_EQ(f.length, get.size());
  f = NextRequest(post + get, kLimits);
  ASSERT_EQ(f.kind, Frame::Kind::kRequest);
  EXPECT_EQ(f.length, post.size());
  // Every prefix of a request is incomplete, never refused.
  for (std::size_t n = 0; n < post.size(); ++n)
    EXPECT_EQ(NextRequest(post.substr(0, n), kLimits).kind, Frame::Kind::kIncomplete) << n;
  // Empty lines before a request are skipped.
  f = NextRequest("\r\n\r\n" + get, kLimits);
  ASSERT_EQ(f.kind, Frame::Kind::kRequest);
  EXPECT_EQ(f.skip, 4u);
  EXPECT_EQ(f.length, get.size());
  // HTTP/1.0, OPTIONS *, obs-text in a value, repeated equal lengths, OWS around a length.
  for (const char* ok : {"GET / HTTP/1.0\r\n\r\n", "OPTIONS * HTTP/1.1\r\n\r\n",
                         "GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n",
                         "POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx",
                         "POST / HTTP/1.1\r\nContent-Length:\t 1 \r\n\r\nx"})
    EXPECT_EQ(NextRequest(ok, kLimits).kind, Frame::Kind::kRequest) << ok;
}

TEST(Framing, RefusesWhatPistacheWouldAnswerByItself) {
  struct Case {
    std::string in;
    int status;
  };
  for (const auto& [in, status] : std::vector<Case>{
           {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
           {"POST / HTTP/1.1\r\nContent-Length: 18446744073709551617\r\n\r\n", 400},
           {"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", 400},
           {"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400},
           {"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400},
           {"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413},
           {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
           {"POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 411},
           {"GET / HTTP/2.0\r\n\r\n", 505},
           {"GET / HTTP/1.10\r\n\r\n", 400},
           {"GET / http/1.1\r\n\r\n", 400},
           {"get / HTTP/1.1\r\n\r\n", 501},
           {"GET  / HTTP/1.1\r\n\r\n", 400},
           {"GET / HTTP/1.1 \r\n\r\n", 400},
           {"GET /a\tb HTTP/1.1\r\n\r\n", 400},
           {"GET /\x80 HTTP/1.1\r\n\r\n", 400},
           {"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
           {"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 400},
           {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
           {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
           {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
           {std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26), 400},
           {"GET / HTTP/1.1\r\nX: " + std::string(1100, 'a') + "\r\n\r\n", 431},
           {"GET / HTTP/1.1\r\nX: " + std::string(1100, 'a'), 431},  // before its end comes
           {"\r\rGET / HTTP/1.1\r\n\r\n", 400},
           {"\r\n" + std::string(1100, '\r'), 431},
       }) {
    const Frame f = NextRequest(in, kLimits);
    EXPECT_EQ(f.kind, Frame::Kind::kRefused) << in.substr(0, 60);
    EXPECT_EQ(f.status, status) << in.substr(0, 60);
    EXPECT_FALSE(f.code.empty());
    EXPECT_EQ(f.message.find(in.substr(0, 10)), std::string::npos) << "echoes its input";
  }
  // An unknown method is refused as soon as it is complete.
  EXPECT_EQ(NextRequest("BREW ", kLimits).status, 501);
  EXPECT_EQ(NextRequest("GE\x01T ", kLimits).status, 400);
  EXPECT_EQ(NextRequest(std::string(2000, 'G'), kLimits).status, 431);
  // Too many header lines.
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) many += "X: 1\r\n";
  EXPECT_EQ(NextRequest(many + "\r\n", {.max_header_bytes = 1 << 20}).status, 431);
}

}  // namespace

// The rooms' rule (docs/architecture.md): only http/ includes Pistache, in its .cpp files, so no
// other translation unit pays for its headers and its traps are held in one place; and sim/, the
// stand-in for outside vendors, is a client of http/ and includes nothing of the ClubOS API.
TEST(HttpRoom, OnlyHttpIncludesPistacheAndTheSimulatorNothingOfTheApi) {
  const auto files = testsupport::SourceFiles();
  ASSERT_NE(std::find(files.begin(), files.end(), "http/http_server.cpp"), files.end())
      << "the scan found no http/http_server.cpp under " << CLUBOS_SOURCE_DIR;
  std::vector<std::string> pistache, sim_on_api;
  for (const auto& path : files) {
    std::istringstream in(testsupport::ReadSourceFile(path));
    for (std::string line; std::getline(in, line);) {
      const auto at = line.find_first_not_of(" \t");
      if (at == std::string::npos || line.compare(at, 8, "#include") != 0) continue;
      if (line.find("<pistache/") != std::string::npos &&
          !(path.rfind("http/", 0) == 0 && path.ends_with(".cpp")))
        pistache.push_back(path + ": " + line);
      if (path.rfind("sim/", 0) == 0 && line.find("\"api/") != std::string::npos)
        sim_on_api.push_back(path + ": " + line);
    }
  }
  EXPECT_TRUE(pistache.empty()) << "Pistache included outside http/*.cpp: "
                                << ::testing::PrintToString(pistache);
  EXPECT_TRUE(sim_on_api.empty()) << "sim/ includes the API: "
                                  << ::testing::PrintToString(sim_on_api);
  // The build says the same: only http/ links Pistache.
  for (const char* cmake : {"CMakeLists.txt", "api/CMakeLists.txt", "sim/CMakeLists.txt",
                            "app/CMakeLists.txt", "tests/CMakeLists.txt"})
    EXPECT_EQ(testsupport::ReadSourceFile(cmake).find("PISTACHE"), std::string::npos) << cmake;
  EXPECT_NE(testsupport::ReadSourceFile("http/CMakeLists.txt").find("PkgConfig::PISTACHE"),
            std::string::npos);
}
