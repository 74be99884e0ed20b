#pragma once
// Small checks on text that several layers need the same way.
#include <string>

namespace clubos {

// Equal without an early exit on the first difference (secrets, signatures, device keys).
bool ConstantTimeEqual(const std::string& a, const std::string& b);

// "+" and 7..15 digits, not starting with 0: an E.164 phone number.
bool IsE164(const std::string& phone);

}  // namespace clubos
