#pragma once
// Small checks on text that several layers need the same way.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace clubos {

// SHA-256 of `bytes`, as 64 lower-case hex digits (cache keys, prompt hashes; not for passwords).
std::string Sha256Hex(const std::string& bytes);

// Equal without an early exit on the first difference (secrets, signatures, device keys).
bool ConstantTimeEqual(const std::string& a, const std::string& b);

// "+" and 7..15 digits, not starting with 0: an E.164 phone number.
bool IsE164(const std::string& phone);

// UTF-8 without NUL and without overlong or surrogate forms: what Postgres text holds as it was
// sent (a NUL would cut the value short silently).
bool IsValidText(const std::string& s);

// Characters (code points) of valid UTF-8, as OpenPhone and carriers count a message's length.
std::size_t Utf8Length(const std::string& s);

// The longest prefix of `s` within `bytes` that does not cut a UTF-8 character in two (Postgres
// refuses half a character): for cutting logs, notes and stored excerpts to size.
std::string CutUtf8(const std::string& s, std::size_t bytes);

// The longest SMS text, in characters: OpenPhone's own limit for a message's content
// (integrations.md §2.3). Intake and sending hold to the same number.
inline constexpr std::size_t kMaxSmsChars = 1600;

// The one strict parser of integers in text (path ids, query numbers, cursors): an optional '-'
// and 1..19 ASCII digits, nothing else (no '+', spaces, hex or a fraction), within int64_t.
// nullopt otherwise: a number out of range is refused, never wrapped or clamped.
std::optional<int64_t> ParseInt64(std::string_view text);

}  // namespace clubos
