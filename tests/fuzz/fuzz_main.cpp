// libFuzzer's entry point (built with clang: tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  clubos::fuzz::FuzzOne(data, size);
  return 0;
}
