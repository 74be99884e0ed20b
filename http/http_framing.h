#pragma once
// Where one HTTP/1.1 request ends in the bytes a connection sent, checked before Pistache's parser
// sees them (pure: no Pistache, so the fuzzer reaches it). Pistache 0.0.5 answers what its parser
// refuses by itself, as text and with exception messages (`Content-Length: -1` was a 500
// `basic_string::_M_create`, an overflowing one a 500 `stoull`, `HTTP/9.9` a text 400, a body
// over its buffer a text 413), and drops every request after the first in one read (pipelining).
// The server (http/http_server.cpp) hands Pistache exactly one request at a time, framed here, and
// answers what is refused here in the one error shape (Response::Error, http/http_server.h).
#include <cstddef>
#include <string>
#include <string_view>

namespace clubos::http {

struct FramingLimits {
  std::size_t max_header_bytes = 16 * 1024;  // request line, headers and the blank line
  std::size_t max_body_bytes = 1 << 20;      // the largest Content-Length accepted
  std::size_t max_headers = 100;             // header lines
};

struct Frame {
  enum class Kind {
    kIncomplete,  // more bytes are needed (and may come: nothing is wrong so far)
    kRequest,     // input[skip, skip + length) is one whole request
    kRefused,     // input starts with something that is not a request we take: answer and close
  };
  Kind kind = Kind::kIncomplete;
  std::size_t skip = 0;    // empty lines before the request line (RFC 9112 §2.2: ignored)
  std::size_t length = 0;  // kRequest: the request line through the end of the body
  int status = 0;          // kRefused: 400, 411, 413, 414, 431, 501 or 505
  std::string code;        // kRefused: the error code of that error shape
  std::string message;     // kRefused: why, without echoing what was received
};

// The first request in `input`. Refused: a request line that is not `METHOD SP /target SP
// HTTP/1.x` (method: one of the nine Pistache knows, else 501; version other than 1.0 or 1.1:
// 505), a target with bytes outside visible ASCII, bare LF line ends, header lines that are not
// `name: value` (no obs-fold, no control characters), a Content-Length that is not one decimal
// number (or several that differ), a Content-Length over max_body_bytes (413), any
// Transfer-Encoding (411: send Content-Length; chunked bodies are where proxies and servers
// disagree about where a request ends), and a head longer than max_header_bytes (431).
Frame NextRequest(std::string_view input, const FramingLimits& limits);

}  // namespace clubos::http
