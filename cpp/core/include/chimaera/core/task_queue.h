#pragma once
/**
 * @file task_queue.h
 * `TaskQueue`: a thin wrapper around `hipc::MultiMpscQueue` of task Pointers
 * with a per-lane `LaneHeader` (seed 003 "Active Queues", DESIGN.md §4).
 * Used for the process queue (ServerInitQueues) and for every container's
 * local queues (CreateLocalQueue). Lives in the shared-memory segment.
 *
 * Scheduling protocol (no cold queue, de-duplicated active-queue entries):
 *  - Producer (client or runtime) `Enqueue`: push the task, then
 *    `in_active_.exchange(1, acq_rel)`; only the thread that flips 0->1 pushes
 *    the lane onto its worker's active queue and rings the worker's doorbell.
 *  - Worker `BeginDrain`: `in_active_.exchange(0, acq_rel)` BEFORE popping.
 *    The acquire half synchronises with every producer whose exchange it
 *    read, so their pushed tasks are visible to the pops that follow; a task
 *    pushed after the exchange finds the flag 0 and re-schedules the lane.
 *  - After its 64-task budget the worker calls `Reschedule` if the lane is
 *    still non-empty (again only on a 0->1 flip).
 * So a lane is in at most one active queue at most once, and a non-empty lane
 * is always either scheduled or being drained. A lane is mapped to exactly one
 * worker (LaneHeader::worker_id_), so two workers never drain it at once.
 *
 * Thread-safety: Enqueue from any thread of any process; BeginDrain/Pop/
 * Reschedule only by the lane's worker.
 */
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
  std::atomic<u32> in_active_{0};  /**< 1 while the lane is in its worker's active queue (see file comment) */
  u32 reserved_ = 0;
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
    bool woke = Schedule(lane, workers);
    if (woke_worker) *woke_worker = woke;
    return st;
  }
  /** Worker: clear the scheduled flag before draining (see file comment). */
  static void BeginDrain(TaskLane &lane) noexcept { lane.Header().in_active_.exchange(0, std::memory_order_acq_rel); }
  /** Worker: put a still non-empty lane back on its worker's active queue. */
  static void Reschedule(TaskLane &lane, WorkerShared *workers) noexcept { Schedule(lane, workers); }

 private:
  using Multi = ipc::MultiMpscQueue<ipc::Pointer, LaneHeader>;
  static bool Schedule(TaskLane &lane, WorkerShared *workers) noexcept {
    // acq_rel: release publishes our push to the worker's BeginDrain; acquire
    // orders our later reads after the previous holder's clear.
    if (lane.Header().in_active_.exchange(1, std::memory_order_acq_rel) != 0) return false;
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
