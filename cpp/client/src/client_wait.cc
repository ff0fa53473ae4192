// Client-side Task::Wait (seed 003 "On the client", improved as DESIGN.md §3.4
// asks): spin for a bounded time, then park on the task's completion futex.
// While parked, wake every kLivenessCheckUs to check that the runtime lives,
// so a client waiting on a dead runtime gets kTaskRuntimeDead within ~1 s.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/core/task.h"
#include "chimaera/ipc/futex.h"

namespace chi {
namespace {
constexpr int kSpinIterations = 2000;    // pause-spins (~10-50 µs): sub-µs latency when hot
constexpr int kYieldIterations = 100;    // then sched_yield polls (lets an oversubscribed core run the worker)
constexpr int kYieldIterationsAfterWake = 1000;  // ~0.3-0.5 ms of polls when we woke a parked worker
constexpr i64 kLivenessCheckUs = 200000;  // re-check the runtime every 200 ms while parked
constexpr i64 kRemotePollUs = 300;        // a remote round trip here: 60-160 µs

inline void CpuRelax() { __builtin_ia32_pause(); }
}  // namespace

namespace {
thread_local bool tl_woke_parked_worker = false;
thread_local const Task *tl_last_enqueued = nullptr;
}  // namespace
void NoteWokeParkedWorker() noexcept { tl_woke_parked_worker = true; }
void NoteEnqueued(const Task *task) noexcept { tl_last_enqueued = task; }
bool TakeWokeParkedWorker() noexcept { return std::exchange(tl_woke_parked_worker, false); }

bool ClientWait(Task *task, i64 timeout_us) noexcept {
  // After waking a parked worker, yield instead of spinning (see
  // NoteWokeParkedWorker): the worker may be woken onto this very core.
  const bool woke = TakeWokeParkedWorker();
  // A task addressed to another node answers after a network round trip
  // (~100 µs): no pause-spin, leaving the cores to the threads that carry it;
  // only a submit-and-wait polls (below), a window of tasks parks at once.
  const DomainQuery &dq = task->dom_query_;
  IpcManager *ipc = CHI_IPC_MANAGER;
  const bool remote = dq.GetKind() == DomainQuery::kGlobalNode && ipc->IsInitialized() &&
                      dq.GetSelector() != ipc->Shared().node_id_;
  const int spins = woke || remote ? 0 : kSpinIterations;
  // ...and keep polling through the worker's wake-up (~40-100 µs on a VM)
  // rather than parking and needing a second futex wake-up for ourselves.
  const int yields = remote ? 0 : woke ? kYieldIterationsAfterWake : kYieldIterations;
  for (int i = 0; i < spins; ++i) {
    if (task->completion_.load(std::memory_order_acquire) == kComplete) return true;
    CpuRelax();
  }
  for (int i = 0; i < yields; ++i) {
    if (task->completion_.load(std::memory_order_acquire) == kComplete) return true;
    sched_yield();
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  if (remote && task == tl_last_enqueued) {
    // Submit-and-wait on another node (NoteEnqueued): poll through the
    // round trip, yielding the core to any thread that needs it. Parking
    // would add a futex wake-up (~15-25 µs on a VM) to every remote call.
    const auto until = start + std::chrono::microseconds(timeout_us >= 0 ? std::min(timeout_us, kRemotePollUs)
                                                                          : kRemotePollUs);
    for (int i = 0;; ++i) {
      if (task->completion_.load(std::memory_order_acquire) == kComplete) return true;
      sched_yield();
      if ((i & 15) == 15 && Clock::now() >= until) break;
    }
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
      if (ipc->IsInitialized() && !ipc->IsRuntimeAlive()) {
        task->SetError(kTaskRuntimeDead, "the Chimaera runtime died before the task completed");
        task->completion_.store(kComplete, std::memory_order_release);
        return true;
      }
    }
  }
}

}  // namespace chi
