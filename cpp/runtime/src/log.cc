/**
 * @file log.cc
 * The "chimaera" spdlog logger (log.h).
 */
#include "chimaera/runtime/log.h"

#include <array>
#include <memory>
#include <stdexcept>
#include <string_view>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace chi {
namespace {

constexpr const char *kLoggerName = "chimaera";

struct LevelName {
  std::string_view name_;
  spdlog::level::level_enum level_;
};
/** The accepted names, in increasing severity (also the order of the error
 * message). spdlog's own from_str also takes "warning"/"err" and silently
 * maps unknown names to "off"; we want a strict, documented set. */
constexpr std::array<LevelName, 7> kLevels{{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
}};

std::shared_ptr<spdlog::logger> CreateLogger() {
  // Reuse a logger someone registered under our name before first use (e.g.
  // an embedding application that wants its own sinks).
  if (auto existing = spdlog::get(kLoggerName)) {
    return existing;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(kLoggerName, std::move(sink));
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] [pid %P tid %t] %v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  try {
    spdlog::register_logger(logger);
  } catch (const spdlog::spdlog_ex &) {
    // Lost a race with a direct spdlog::register_logger of the same name.
    if (auto existing = spdlog::get(kLoggerName)) {
      return existing;
    }
  }
  return logger;
}

}  // namespace

spdlog::logger &Log() {
  // The shared_ptr keeps the logger alive even if someone calls
  // spdlog::drop_all(); magic statics make creation thread-safe.
  static const std::shared_ptr<spdlog::logger> logger = CreateLogger();
  return *logger;
}

spdlog::level::level_enum ParseLogLevel(const std::string &level) {
  for (const LevelName &l : kLevels) {
    if (l.name_ == level) {
      return l.level_;
    }
  }
  throw std::invalid_argument("invalid log level '" + level + "' (accepted: " + AcceptedLogLevels() +
                              ")");
}

std::string AcceptedLogLevels() {
  std::string accepted;
  for (const LevelName &l : kLevels) {
    if (!accepted.empty()) {
      accepted += ", ";
    }
    accepted += l.name_;
  }
  return accepted;
}

void SetLogLevel(const std::string &level) { Log().set_level(ParseLogLevel(level)); }

}  // namespace chi
