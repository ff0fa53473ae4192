#include "chimaera/ipc/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace chi::ipc {

FutexStatus FutexWait(const std::atomic<u32> &word, u32 expected, i64 timeout_us) noexcept {
  timespec ts{};
  timespec *tsp = nullptr;
  if (timeout_us >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_us / 1000000);
    ts.tv_nsec = static_cast<long>((timeout_us % 1000000) * 1000);
    tsp = &ts;
  }
  // FUTEX_WAIT (shared): the kernel keys the wait on the physical page, so
  // waiters and wakers in different processes meet.
  long rc = syscall(SYS_futex, reinterpret_cast<const u32 *>(&word), FUTEX_WAIT, expected, tsp,
                    nullptr, 0);
  if (rc == 0) return FutexStatus::kWoken;
  switch (errno) {
    case EAGAIN: return FutexStatus::kValueChanged;
    case ETIMEDOUT: return FutexStatus::kTimedOut;
    case EINTR: return FutexStatus::kInterrupted;
    default: return FutexStatus::kWoken;  // treat as spurious: callers re-check
  }
}

int FutexWake(const std::atomic<u32> &word, int count) noexcept {
  long rc = syscall(SYS_futex, reinterpret_cast<const u32 *>(&word), FUTEX_WAKE, count, nullptr,
                    nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

}  // namespace chi::ipc
