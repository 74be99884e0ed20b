#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace clubos::log {
namespace {

class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& m, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto escaped = nlohmann::json(std::string(m.payload.data(), m.payload.size())).dump();
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

}  // namespace

void Init(std::string_view logger_name) {
  auto logger = spdlog::stderr_logger_mt(std::string(logger_name));
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  f->add_flag<JsonEscapedMessage>('j').set_pattern(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","pid":%P,"msg":%j})");
  logger->set_formatter(std::move(f));
  const char* level = std::getenv("CLUBOS_LOG_LEVEL");
  logger->set_level(level ? spdlog::level::from_str(level) : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::shared_ptr<spdlog::logger> Get() {
  return spdlog::default_logger();
}

std::string MaskPhone(std::string_view phone) {
  std::string digits;
  for (char c : phone)
    if (c >= '0' && c <= '9') digits.push_back(c);
  if (digits.size() <= 4) return "***";
  return "***" + digits.substr(digits.size() - 4);
}

std::string RedactPhones(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = i + (text[i] == '+' ? 1 : 0);
    std::size_t k = j;
    while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k;
    if (k - j >= 7) {
      out += MaskPhone(text.substr(i, k - i));
      i = k;
    } else {
      out.append(text, i, std::max<std::size_t>(k - i, 1));
      i += std::max<std::size_t>(k - i, 1);
    }
  }
  return out;
}

}  // namespace clubos::log
