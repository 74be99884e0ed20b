#pragma once
// One fuzz input through the parsers that read untrusted bytes: OpenPhone's webhook envelope, the
// signature headers, every API request body, times, paging cursors, integers, and the framing of
// HTTP requests before Pistache parses them. The first byte picks the parser; the rest is its
// input. A parser may refuse (ApiError 400, an error string, a verdict) but must not crash, hang
// or throw anything else, and what it accepts must hold together (checked here).
#include <cstddef>
#include <cstdint>

namespace clubos::fuzz {

void FuzzOne(const uint8_t* data, std::size_t size);

}  // namespace clubos::fuzz
