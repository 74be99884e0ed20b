#include "http/http_framing.h"

#include <array>
#include <cstdint>

#include "core/text.h"

namespace clubos::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// Pistache 0.0.5's methods (http_defs.h); routes exist for all nine (http/http_server.cpp).
constexpr std::array<std::string_view, 9> kMethods = {"GET",  "POST",    "PUT",   "DELETE", "PATCH",
                                                      "HEAD", "OPTIONS", "TRACE", "CONNECT"};
// Longer than any method, and than any target this API routes (ids, cursors, a few filters).
constexpr std::size_t kMaxMethodChars = 16;
constexpr std::size_t kMaxTargetChars = 4096;

Frame Refuse(int status, std::string code, std::string message) {
  Frame f;
  f.kind = Frame::Kind::kRefused;
  f.status = status;
  f.code = std::move(code);
  f.message = std::move(message);
  return f;
}

Frame Bad(std::string message) {
  return Refuse(400, "bad_request", std::move(message));
}

// RFC 9110 §5.6.2 tchar.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!IsTokenChar(c)) return false;
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((static_cast<unsigned char>(a[i]) | 0x20) != (static_cast<unsigned char>(b[i]) | 0x20))
      return false;
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The method, once its space has arrived: refused before the rest of the line comes.
Frame Method(std::string_view method) {
  if (method.size() > kMaxMethodChars || !IsToken(method))
    return Bad("the request line must be METHOD /path HTTP/1.1");
  for (auto m : kMethods)
    if (m == method) return Frame{};
  return Refuse(501, "not_implemented", "this server does not implement that method");
}

Frame RequestLine(std::string_view line) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return Bad("the request line must be METHOD /path HTTP/1.1");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (Frame f = Method(method); f.kind == Frame::Kind::kRefused) return f;
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return Bad("the request line must end in an HTTP version, e.g. HTTP/1.1");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return Refuse(505, "http_version_not_supported", "only HTTP/1.1 and HTTP/1.0 are served");
  if (target.empty() || target.size() > kMaxTargetChars)
    return Refuse(
        target.empty() ? 400 : 414, target.empty() ? "bad_request" : "uri_too_long",
        target.empty() ? "the request target is missing" : "the request target is too long");
  if (target[0] != '/' && target != "*")
    return Bad("the request target must be a path (origin form, e.g. /v1/threads)");
  for (unsigned char c : target)
    if (c <= ' ' || c >= 0x7f)
      return Bad("the request target must be visible ASCII (percent-encode other bytes)");
  return Frame{};
}

}  // namespace

Frame NextRequest(std::string_view input, const FramingLimits& limits) {
  // Empty lines before a request are ignored, as RFC 9112 §2.2 allows (some clients send a CRLF
  // after a body).
  std::size_t skip = 0;
  while (input.substr(skip, 2) == kCrlf) skip += 2;
  if (skip > limits.max_header_bytes)
    return Refuse(431, "headers_too_large", "the request head is too large");
  const std::string_view in = input.substr(skip);

  std::size_t pos = 0;
  std::size_t lines = 0;
  bool have_length = false;
  uint64_t content_length = 0;
  for (;;) {
    const std::size_t lf = in.find('\n', pos);
    const std::size_t line_end = lf == std::string_view::npos ? in.size() : lf;
    // Whatever has arrived is checked, complete or not: a bad request line is refused before its
    // end comes, and a head that cannot end within the limit is refused at once.
    if (line_end > limits.max_header_bytes)
      return Refuse(431, "headers_too_large", "the request head is too large");
    if (lf == std::string_view::npos) {
      if (pos == 0)
        if (const std::size_t sp = in.find(' '); sp != std::string_view::npos)
          if (Frame f = Method(in.substr(0, sp)); f.kind == Frame::Kind::kRefused) return f;
      return Frame{};
    }
    if (lf == 0 || in[lf - 1] != '\r') return Bad("lines must end in CRLF");
    const std::string_view line = in.substr(pos, lf - 1 - pos);
    pos = lf + 1;
    if (line.find('\r') != std::string_view::npos) return Bad("a bare CR inside a line");
    if (lines == 0) {
      if (Frame f = RequestLine(line); f.kind == Frame::Kind::kRefused) return f;
      ++lines;
      continue;
    }
    if (line.empty()) break;  // the end of the head
    if (++lines > limits.max_headers + 1)
      return Refuse(431, "headers_too_large", "the request has too many header lines");
    if (line[0] == ' ' || line[0] == '\t') return Bad("folded header lines are not accepted");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)))
      return Bad("a header line must be name: value");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = TrimOws(line.substr(colon + 1));
    for (unsigned char c : value)
      if ((c < ' ' && c != '\t') || c == 0x7f) return Bad("a header value has a control character");
    if (EqualsIgnoreCase(name, "transfer-encoding"))
      return Refuse(411, "length_required",
                    "Transfer-Encoding is not accepted: send the body with Content-Length");
    if (EqualsIgnoreCase(name, "content-length")) {
      // One decimal number: not empty, no sign, no list, within int64 (then within the limit).
      const auto n = value.empty() || value[0] == '-' ? std::nullopt : ParseInt64(value);
      if (!n) return Bad("Content-Length must be one decimal number of bytes");
      if (have_length && content_length != static_cast<uint64_t>(*n))
        return Bad("the request has Content-Length headers that differ");
      have_length = true;
      content_length = static_cast<uint64_t>(*n);
      if (content_length > limits.max_body_bytes)
        return Refuse(413, "body_too_large",
                      "the body is " + std::to_string(content_length) + " bytes; the limit is " +
                          std::to_string(limits.max_body_bytes));
    }
  }
  Frame f;
  f.skip = skip;
  if (in.size() - pos < content_length) return f;  // the body is still coming
  f.kind = Frame::Kind::kRequest;
  f.length = pos + static_cast<std::size_t>(content_length);
  return f;
}

}  // namespace clubos::http
