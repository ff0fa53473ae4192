#pragma once
/**
 * @file event_count.h
 * `EventCount`: a doorbell in shared memory that lets a thread park on a
 * condition without missing a wakeup and lets the notifier skip the syscall
 * when nobody is parked (DESIGN.md §3: "no syscall when the worker is awake").
 *
 * Protocol (waiter):            Protocol (notifier):
 *   key = PrepareWait();          make condition true (any store)
 *   if (condition) CancelWait();  Notify();
 *   else Wait(key, timeout);
 *
 * Memory ordering: PrepareWait increments `waiters_` and then issues a
 * seq_cst fence before the caller reads its condition; Notify issues a seq_cst
 * fence after the caller's store and before reading `waiters_`. By the
 * store-buffering (Dekker) argument, either the waiter sees the condition or
 * the notifier sees waiters_ > 0 and bumps `epoch_` + wakes; the futex then
 * refuses to sleep because `epoch_ != key`. So no wakeup is lost.
 *
 * Thread-safety: any number of waiters and notifiers, in any processes.
 * The object is trivially placed in shared memory (two 32-bit atomics).
 */
#include <atomic>

#include "chimaera/ipc/futex.h"

namespace chi::ipc {

class EventCount {
 public:
  /** Announce intent to wait; returns the key to pass to Wait. */
  u32 PrepareWait() noexcept {
    waiters_.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_acquire);
  }
  /** The condition turned true after PrepareWait: do not sleep. */
  void CancelWait() noexcept { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  /** Sleep until notified after PrepareWait returned `key`, or `timeout_us`
   * elapse (kWaitForever: no limit). Returns the futex status. */
  FutexStatus Wait(u32 key, i64 timeout_us) noexcept {
    FutexStatus st = FutexWait(epoch_, key, timeout_us);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return st;
  }
  /** Wake every parked waiter; a fence + one load when nobody is parked.
   * Returns true when a waiter was (about to be) parked and got a wake. */
  bool Notify() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_relaxed) == 0) return false;
    epoch_.fetch_add(1, std::memory_order_release);
    FutexWake(epoch_, INT32_MAX);
    return true;
  }
  /** Number of threads between PrepareWait and the end of Wait/CancelWait. */
  u32 Waiters() const noexcept { return waiters_.load(std::memory_order_relaxed); }

 private:
  std::atomic<u32> epoch_{0};
  std::atomic<u32> waiters_{0};
};

}  // namespace chi::ipc
