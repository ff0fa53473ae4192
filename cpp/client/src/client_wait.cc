// Client-side Task::Wait (seed 003 "On the client", improved as DESIGN.md §3.4
// asks): spin for a bounded time, then park on the task's completion futex.
// While parked, wake every kLivenessCheckUs to check that the runtime lives,
// so a client waiting on a dead runtime gets kTaskRuntimeDead within ~1 s.
#include <sched.h>

#include <chrono>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/core/task.h"
#include "chimaera/ipc/futex.h"

namespace chi {
namespace {
// Before parking: pause-spin (sub-µs latency when the runtime is hot), then
// poll with sched_yield (lets an oversubscribed core run the worker). The
// budget covers the ~40-100 µs a parked worker needs to wake on a VM, so a
// task sent to an idle runtime usually completes without a second futex
// wake for the client (benchmarks/README.md, "first task after idle").
constexpr i64 kSpinUs = 150;
constexpr i64 kYieldUntilUs = 250;
constexpr i64 kLivenessCheckUs = 200000;  // re-check the runtime every 200 ms while parked

inline void CpuRelax() { __builtin_ia32_pause(); }
}  // namespace

bool ClientWait(Task *task, i64 timeout_us) noexcept {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto elapsed_us = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  };
  i64 spent = 0;
  for (u32 i = 0;; ++i) {
    if (task->completion_.load(std::memory_order_acquire) == kComplete) return true;
    if ((i & 63) == 0) {
      spent = elapsed_us();
      if (spent >= kYieldUntilUs) break;
      if (timeout_us >= 0 && spent >= timeout_us) return false;
    }
    if (spent < kSpinUs) CpuRelax();
    else sched_yield();
  }
  for (;;) {
    u32 v = task->completion_.load(std::memory_order_acquire);
    if (v == kComplete) return true;
    // Announce the parked waiter so the runtime issues a futex wake. A failed
    // CAS means the value changed (completed, or already kPendingWaiter).
    if (v == kPending && !task->completion_.compare_exchange_strong(v, kPendingWaiter, std::memory_order_acq_rel))
      continue;
    i64 slice = kLivenessCheckUs;
    if (timeout_us >= 0) {
      i64 left = timeout_us - std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      if (left <= 0) return false;
      slice = std::min(slice, left);
    }
    ipc::FutexStatus st = ipc::FutexWait(task->completion_, kPendingWaiter, slice);
    if (st == ipc::FutexStatus::kTimedOut && task->completion_.load(std::memory_order_acquire) != kComplete) {
      IpcManager *ipc = CHI_IPC_MANAGER;
      if (ipc->IsInitialized() && !ipc->IsRuntimeAlive()) {
        task->SetError(kTaskRuntimeDead, "the Chimaera runtime died before the task completed");
        task->completion_.store(kComplete, std::memory_order_release);
        return true;
      }
    }
  }
}

}  // namespace chi
