#pragma once
/**
 * @file log.h
 * The one Chimaera logger (STYLE.md "Logging through one logger (spdlog) with
 * levels"). Every library of the runtime and every ChiMod logs through
 * `chi::Log()`; nothing writes to std::cout.
 *
 * The logger is named "chimaera", writes to stderr (colored when stderr is a
 * terminal), and is created on first use at level "info". It is registered in
 * spdlog's registry, so `spdlog::get("chimaera")` returns the same logger.
 * Tests may add sinks to `Log().sinks()` to capture output (not thread-safe:
 * do it while no other thread logs).
 */
#include <string>

#include <spdlog/logger.h>

namespace chi {

/** The "chimaera" logger, created on first call. Thread-safe (creation is a
 * function-local static; the sinks are the spdlog `_mt` variants). Never
 * throws except std::bad_alloc on first call. */
spdlog::logger &Log();

/** The spdlog level named `level`: one of "trace", "debug", "info", "warn",
 * "error", "critical", "off" (exact, lower case). Throws std::invalid_argument
 * naming the bad value and the accepted ones. Thread-safe (pure). */
spdlog::level::level_enum ParseLogLevel(const std::string &level);

/** The accepted level names for messages: "trace, debug, info, warn, error,
 * critical, off". Thread-safe (pure). */
std::string AcceptedLogLevels();

/** Set the level of `Log()` (see ParseLogLevel for the accepted names).
 * Throws std::invalid_argument on an unknown name, leaving the level as it
 * was. Thread-safe (spdlog stores the level atomically). */
void SetLogLevel(const std::string &level);

}  // namespace chi
