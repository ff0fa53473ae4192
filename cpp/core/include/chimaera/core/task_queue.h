#pragma once
/**
 * @file task_queue.h
 * `TaskQueue`: a thin wrapper around `hipc::MultiMpscQueue` of task Pointers
 * with a per-lane `LaneHeader` (seed 003 "Active Queues", DESIGN.md §4).
 * Used for the process queue (ServerInitQueues) and for every container's
 * local queues (CreateLocalQueue). Lives in the shared-memory segment.
 *
 * Scheduling protocol (no cold queue, de-duplicated active-queue entries).
 * `in_active_` == 1 means "the lane's worker holds the lane": it is in the
 * worker's active queue, being drained, or polled directly by the worker.
 *  - Producer (client or runtime) `Enqueue`: push the task, seq_cst fence,
 *    load the flag. 1: done (the worker will see the task; no active-queue
 *    push, no doorbell, and the flag's cache line is only read, so it stays
 *    shared between the cores). 0: `exchange(1)`; only the thread that flips
 *    0->1 pushes the lane onto its worker's active queue and rings the
 *    worker's doorbell.
 *  - Worker: pops a lane from its active queue and keeps holding it after
 *    draining (at most 64 tasks per visit, seed 003), polling it directly
 *    while it has work or spins; before it parks it `Release`s every lane it
 *    holds: store 0, seq_cst fence, and if the lane is not empty after all,
 *    take it back (exchange(1) == 0) and drain it.
 * The two fences make this a store-buffering (Dekker) pair: either the
 * producer sees the flag 0 (and schedules), or the worker sees the task. So a
 * non-empty lane is always held by its worker, and it is in the active queue
 * at most once per 0->1 flip. A lane is mapped to exactly one worker
 * (LaneHeader::worker_id_), so two workers never drain it at once.
 * (DESIGN.md §4 has the worker clear the flag before each drain; holding it
 * while the worker is busy saves the producer the flag RMW, the active-queue
 * push and the doorbell check: fewer cache-line transfers per task.)
 *
 * Thread-safety: Enqueue from any thread of any process; Pop/Release only by
 * the lane's worker.
 */
#include <sched.h>

#include <atomic>

#include "chimaera/core/ids.h"
#include "chimaera/ipc/event_count.h"
#include "chimaera/ipc/mpsc_queue.h"
#include "chimaera/ipc/multi_mpsc_queue.h"
#include "chimaera/ipc/pointer.h"

namespace chi {

/** Per-lane header stored in shared memory beside each lane (seed 003). */
struct LaneHeader {
  u32 worker_id_ = 0;              /**< worker this lane is mapped to (WorkOrchestrator) */
  QueueId queue_id_ = 0;           /**< owning queue */
  LaneId lane_id_ = 0;             /**< index inside its queue */
  u32 is_process_lane_ = 0;        /**< 1: process queue (tasks need resolving); 0: container lane */
  std::atomic<u32> in_active_{0};  /**< 1 while the lane's worker holds it (see file comment) */
  /** CPU of the producer that last scheduled this lane (relaxed; a hint: an
   * idle worker on that CPU yields instead of pause-spinning). */
  std::atomic<u32> last_producer_cpu_{0};
  u64 container_ = 0;              /**< runtime-private Container* of a container lane (0 otherwise) */
};

using TaskLane = ipc::MpscLane<ipc::Pointer, LaneHeader>;
/** A worker's active queue: Pointers to lanes with work (seed 003). */
using ActiveQueue = ipc::MpscQueue<ipc::Pointer>;

/** Per-worker state shared with clients (in the segment). */
struct alignas(ipc::kCacheLineBytes) WorkerShared {
  ipc::EventCount doorbell_;              /**< rung when a lane is scheduled on this worker */
  u32 id_ = 0;
  std::atomic<u64> tasks_completed_{0};   /**< relaxed: statistics only */
  ipc::Pointer active_queue_;             /**< ActiveQueue of this worker */
};

class TaskQueue {
 public:
  static constexpr std::size_t SizeOf(u32 num_lanes, u32 num_prios, u32 depth) noexcept {
    return sizeof(TaskQueue) - sizeof(Multi) + Multi::SizeOf(num_lanes, num_prios, depth);
  }
  /** Placement-construct in SizeOf(...) bytes of shared memory. */
  TaskQueue(QueueId id, u32 num_lanes, u32 num_prios, u32 depth) noexcept
      : id_(id), queue_(num_lanes, num_prios, depth) {
    for (u32 l = 0; l < queue_.GetNumLanes(); ++l)
      for (u32 p = 0; p < queue_.GetNumPrios(); ++p) {
        LaneHeader &h = queue_.GetLane(l, p).Header();
        h.queue_id_ = id;
        h.lane_id_ = l;
      }
  }

  QueueId GetId() const noexcept { return id_; }
  u32 GetNumLanes() const noexcept { return queue_.GetNumLanes(); }
  u32 GetNumPrios() const noexcept { return queue_.GetNumPrios(); }
  TaskLane &GetLane(LaneId lane, u32 prio = 0) noexcept { return queue_.GetLane(lane, prio); }

  /** Push `task` onto `lane` and schedule the lane on its worker when needed.
   * `workers` is the WorkerShared array of the runtime (in this process's
   * mapping). Returns kFull when the lane is full (nothing was pushed).
   * `woke_worker` (optional) is set when the lane's worker was parked and
   * had to be woken (the task will take a futex wake-up, ~40 µs on a VM). */
  static ipc::QueueStatus Enqueue(TaskLane &lane, ipc::Pointer task, WorkerShared *workers,
                                  bool *woke_worker = nullptr) noexcept {
    ipc::QueueStatus st = lane.Push(task);
    if (st != ipc::QueueStatus::kOk) return st;
    // Pairs with the fence in Release (see file comment).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const bool woke = lane.Header().in_active_.load(std::memory_order_relaxed) == 0 && Schedule(lane, workers);
    if (woke_worker) *woke_worker = woke;
    return st;
  }
  /** Worker: stop holding `lane` (see file comment). Returns false when the
   * lane is released (the next Enqueue schedules it); true when it turned
   * out non-empty and the caller holds it again and must drain it. */
  static bool Release(TaskLane &lane) noexcept {
    std::atomic<u32> &flag = lane.Header().in_active_;
    flag.store(0, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the fence in Enqueue
    if (lane.IsEmpty()) return false;
    // A producer that saw 0 may have taken the lane (and scheduled it) first.
    return flag.exchange(1, std::memory_order_acq_rel) == 0;
  }

 private:
  using Multi = ipc::MultiMpscQueue<ipc::Pointer, LaneHeader>;
  static bool Schedule(TaskLane &lane, WorkerShared *workers) noexcept {
    // acq_rel: only the 0->1 flip schedules; it follows the worker's Release.
    if (lane.Header().in_active_.exchange(1, std::memory_order_acq_rel) != 0) return false;
    lane.Header().last_producer_cpu_.store(static_cast<u32>(sched_getcpu()), std::memory_order_relaxed);
    WorkerShared &w = workers[lane.Header().worker_id_];
    ipc::FullPtr<ActiveQueue> aq(w.active_queue_);
    ipc::Pointer self = ipc::ToPointer(&lane);
    // The active queue holds every lane of its worker at most once (flag),
    // and the runtime sizes it for all lanes it maps, so it cannot be full;
    // spin defensively rather than lose a lane.
    while (aq->Push(self) == ipc::QueueStatus::kFull) {
    }
    return w.doorbell_.Notify();
  }

  QueueId id_;
  u32 reserved_[15] = {};
  Multi queue_;  // must stay last: its lanes extend past the end of TaskQueue
};

}  // namespace chi
