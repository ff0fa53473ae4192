#include "chimaera/ipc/process_id.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

#include "chimaera/ipc/segment.h"

namespace chi::ipc {
namespace {
std::atomic<u32> g_pid{0};
void ResetAfterFork() { g_pid.store(0, std::memory_order_relaxed); }
}  // namespace

u32 ThisProcessId() noexcept {
  // relaxed: each process computes the same value; a race only repeats getpid.
  u32 pid = g_pid.load(std::memory_order_relaxed);
  if (pid != 0) return pid;
  static const bool registered = [] { return pthread_atfork(nullptr, nullptr, &ResetAfterFork) == 0; }();
  (void)registered;
  pid = static_cast<u32>(getpid());
  g_pid.store(pid, std::memory_order_relaxed);
  return pid;
}

bool IsProcessDead(u32 pid) noexcept {
  // Positive evidence only (ESRCH, zombie): recovering a slot whose owner is
  // in fact alive would let it write into a reused slot.
  return pid != 0 && pid < (1u << 30) && QueryProcess(static_cast<int>(pid), 0) == ProcessState::kGone;
}

}  // namespace chi::ipc
