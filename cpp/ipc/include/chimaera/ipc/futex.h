#pragma once
/**
 * @file futex.h
 * Shared (cross-process) futex wait/wake on a 32-bit word in shared memory.
 * Deliberately NOT FUTEX_PRIVATE_FLAG: waiter and waker may be different
 * processes mapping the same segment (issue "Foundation", DESIGN.md §3-4).
 *
 * Thread-safety: both functions may be called concurrently from any thread of
 * any process mapping `word`.
 */
#include <atomic>

#include "chimaera/ipc/types.h"

namespace chi::ipc {

enum class FutexStatus {
  kWoken,         /**< returned after a wake (or a spurious wakeup) */
  kValueChanged,  /**< `*word != expected` when the call was made: no sleep */
  kTimedOut,      /**< the timeout elapsed */
  kInterrupted,   /**< a signal interrupted the sleep (EINTR) */
};

/** Sentinel for FutexWait: no timeout. */
inline constexpr i64 kWaitForever = -1;

/** Sleep while `word == expected`, at most `timeout_us` microseconds
 * (kWaitForever: no limit). Never sleeps when the value already differs.
 * Callers must re-check their condition: wakeups may be spurious. */
FutexStatus FutexWait(const std::atomic<u32> &word, u32 expected, i64 timeout_us) noexcept;

/** Wake up to `count` threads sleeping in FutexWait on `word`; returns how
 * many were woken. Costs a syscall: callers avoid it when nobody waits. */
int FutexWake(const std::atomic<u32> &word, int count) noexcept;

static_assert(sizeof(std::atomic<u32>) == 4 && std::atomic<u32>::is_always_lock_free,
              "futex words must be plain 32-bit lock-free atomics");

}  // namespace chi::ipc
