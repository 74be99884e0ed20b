#pragma once
// JSON-lines logging on stderr: {"ts","level","logger","msg"}. Messages are free text made
// JSON-safe by the formatter; secrets never go in, phone numbers go in only through MaskPhone.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace clubos::log {

// Installs the JSON formatter as the default logger. Level from CLUBOS_LOG_LEVEL (default info).
void Init(std::string_view logger_name);
std::shared_ptr<spdlog::logger> Get();

// "+15555550100" -> "***0100". Phone numbers appear in logs only through this.
std::string MaskPhone(std::string_view phone);
// Every run of 7 or more digits (with its '+') in free text masked as MaskPhone does: error
// messages, exported texts.
std::string RedactPhones(std::string_view text);

}  // namespace clubos::log
