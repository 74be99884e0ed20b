// Every input kept under tests/fuzz/corpus (seeds, and crashes the fuzzer found, once fixed) runs
// through the fuzz body in every build, with or without clang.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/fuzz_body.h"

TEST(FuzzCorpus, EveryKeptInputParsesWithoutCrashing) {
  const std::filesystem::path dir = std::filesystem::path(CLUBOS_SOURCE_DIR) / "tests/fuzz/corpus";
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream f(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().filename().string());
    EXPECT_NO_THROW(
        clubos::fuzz::FuzzOne(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    ++inputs;
  }
  EXPECT_GE(inputs, 12) << "the seeds are there";
}
