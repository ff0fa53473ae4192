#pragma once
/**
 * @file worker.h
 * `chi::Worker`: one runtime thread (seed 003 "Worker", "Active Queues",
 * "Waiting for Tasks"; DESIGN.md §3-4).
 *
 * Loop: pop lanes from the active queue and from then on hold them (up to
 * kMaxHeldLanes; TaskQueue's file comment) and poll them directly; drain at
 * most kTasksPerLaneVisit tasks per lane per visit (a container lane's visit
 * also ends after kLaneVisitBudgetNs of run time, and new client tasks are
 * routed then: RouteNewTasks); a process-queue task is *resolved* (DomainQuery, then
 * Monitor(kLocalSchedule) routes it to a container lane), a container-lane
 * task is *run* on a coroutine (Boost.Context fiber). The first task after a
 * doorbell wake-up skips that hop when its container lane is this worker's and
 * empty: it runs at once, and the worker then yields to a client on its CPU
 * (the cold path of "first task after idle", RouteTask). A task that waits on a
 * subtask (RuntimeWait) is suspended onto the min-heap of waiting tasks keyed
 * by estimated completion (Monitor(kEstLoad)); the heap is checked at the end
 * of every iteration. With nothing to do the worker spins for a bounded
 * time (yielding at once when the latest client runs on its CPU; not at all
 * after remote-only work: tasks it handed to the remote queue or rebuilt from
 * a peer's request), releases
 * the lanes it holds, then parks on its doorbell (futex) until a lane is
 * scheduled on it or the earliest waiting task is due; with no waiting task
 * it parks with no timeout (the LaneSweeper rings it for work a dead client
 * left unannounced).
 *
 * Thread-safety: all methods except RequestStop/Shared/AddLane/SweepIfParked
 * run on the worker's own thread (or its fibers).
 */
#include <atomic>
#include <chrono>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chimaera/core/task_queue.h"
#include "chimaera/runtime/run_context.h"

namespace chi {

class Runtime;

class Worker {
 public:
  static constexpr int kTasksPerLaneVisit = 64;   /**< seed 003: fixed budget per lane visit */
  static constexpr int kIdleSpins = 2000;         /**< pause-spins (~10-50 µs) when idle */
  static constexpr int kIdleYields = 200;         /**< then polls with sched_yield (~0.2-1 ms) before parking */
  static constexpr std::size_t kFiberStackBytes = 256 * 1024;
  /** Longest sleep while a task waits on a subtask (its completer rings us
   * anyway; this bounds a missed ring). Without waiters a worker parks with
   * no timeout (LaneSweeper). */
  static constexpr i64 kMaxWaiterSleepUs = 200000;
  /** Cap of the doubling re-check delay of an overdue waiting task. */
  static constexpr u64 kOverdueRecheckMaxNs = 50000000;
  static constexpr std::size_t kMaxHeldLanes = 8; /**< lanes polled directly while busy (HoldLane) */
  /** Run time after which a container lane's visit ends early so that new
   * client tasks get routed (DrainLane); measured on CLOCK_MONOTONIC_COARSE
   * (one tick is 1-10 ms by the kernel's HZ): the visit ends at the first
   * tick after its second task, seen after each task up to the 8th and then
   * every 8th task. */
  static constexpr u64 kLaneVisitBudgetNs = 1000000;

  Worker(u32 id, WorkerShared *shared, Runtime *rt);
  ~Worker();
  void Start();
  /** Ask the loop to exit (any thread) and wake it. */
  void RequestStop() noexcept;
  void Join();

  u32 Id() const noexcept { return id_; }
  WorkerShared &Shared() noexcept { return *shared_; }
  /** The worker of the calling thread (CHI_CUR_WORKER), or nullptr. */
  static Worker *Current() noexcept;
  /** The task running on the calling fiber, or nullptr. */
  RunContext *CurrentContext() noexcept { return current_; }

  /** Called on a task fiber: suspend until `subtask` completes (seed 003). */
  void BlockOn(Task *subtask);
  /** Called on a task fiber: give other work a turn, resume next iteration. */
  void YieldCurrent();

  /** Record that `lane` is mapped to this worker (WorkOrchestrator). Any
   * thread. The LaneSweeper watches these lanes (SweepIfParked). */
  void AddLane(TaskLane *lane);
  /** LaneSweeper thread: when this worker is parked, reschedule the lanes a
   * dead client left flagged but unscheduled and ring the worker if its
   * active queue holds anything (see lane_sweeper.h). Any thread. */
  void SweepIfParked();
  /** Odd while the worker sleeps in Park, past every re-check (it then holds
   * no lane, has no overflow and handles no task), even otherwise; it grows
   * by one at each transition, so equal reads bracket a stretch in which the
   * worker did nothing (any thread). */
  u64 SleepSeq() const noexcept { return sleep_seq_.load(std::memory_order_seq_cst); }
  bool ActiveQueueEmpty() const noexcept { return active_queue_->IsEmpty(); }
  /** Stop watching `lanes` (their container was retired). Any thread. */
  void ForgetLanes(const std::vector<TaskLane *> &lanes);

  /** Tasks still queued or blocked in this worker when it stopped: failed
   * with kTaskRuntimeStopping and completed by the runtime's stop. */
  void FailBlockedTasks();

 private:
  struct WaitEntry {
    u64 due_ns;
    RunContext *rctx;
    u64 backoff_ns;  // re-check delay once overdue (doubles, capped)
    bool operator>(const WaitEntry &o) const noexcept { return due_ns > o.due_ns; }
  };

  void Loop();
  bool PollActiveQueue();
  int DrainLane(TaskLane &lane);
  /** Route the tasks queued on process lanes (held ones, then those the
   * active queue offers) while container lanes still hold work: called when
   * a container lane's visit used up kLaneVisitBudgetNs. */
  void RouteNewTasks();
  void HoldLane(TaskLane *lane);
  bool PollHeldLanes();
  bool ReleaseHeldLanes();
  void HandleTask(TaskLane &lane, ipc::Pointer task);
  u32 RecoverDeadClaim(ipc::MpscQueue<ipc::Pointer> &queue);
  void RecoverStuckHead(TaskLane &lane);
  void RouteTask(ipc::FullPtr<Task> task);
  bool RouteRemote(ipc::FullPtr<Task> task, Container *c, u32 node);
  void FanOut(ipc::FullPtr<Task> task, Container *c, u32 first, u32 count);
  void StartTask(ipc::FullPtr<Task> task, Container *container);
  void Resume(RunContext *rctx);
  bool ResumeReadyWaiters(bool scan_all);
  bool RetryOverflow();
  /** Sleep on the doorbell; true when the sleep ended by its timeout. */
  bool Park();
  void Suspend(RunContext *rctx);
  TaskFiber *AcquireFiber();
  void Release(RunContext *rctx);

  friend struct TaskFiber;
  void RunTaskBody(RunContext *rctx);

  u32 id_;
  WorkerShared *shared_;
  Runtime *rt_;
  ipc::FullPtr<ActiveQueue> active_queue_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<u64> sleep_seq_{0};
  RunContext *current_ = nullptr;
  bool woken_from_park_ = false;  // the doorbell just woke us (RouteTask's cold path)
  // Whether the work of this (last) busy stretch included a task of a local
  // client: after remote-only work the worker parks without spinning (Loop).
  bool local_work_ = false;
  bool last_work_local_ = true;
  u32 next_dynamic_lane_ = 0;  // lane hash of the next task its container left Dynamic (RouteTask)
  u32 last_client_cpu_ = ~0u;  // CPU of the latest client Enqueue on a process lane we drained
  u64 last_recovery_check_ns_ = 0;
  std::mutex lanes_mu_;  // AddLane (any thread) vs SweepIfParked (LaneSweeper)
  struct LaneWatch {
    TaskLane *lane;
    u64 head = 0;          // Queue().Head() at the previous sweep
    bool suspect = false;  // the previous sweep saw it flagged and non-empty
  };
  std::vector<LaneWatch> lanes_;
  std::vector<TaskLane *> held_lanes_;  // lanes whose flag we hold, polled directly (TaskQueue file comment)
  std::vector<WaitEntry> waiting_;  // min-heap on due_ns (std::push_heap with greater)
  std::vector<TaskFiber *> free_fibers_;
  std::vector<std::unique_ptr<TaskFiber>> all_fibers_;
  std::deque<std::pair<TaskLane *, ipc::Pointer>> overflow_;  // routed tasks whose lane was full
};

/** Monotonic nanoseconds (steady_clock). */
inline u64 NowNs() noexcept {
  return static_cast<u64>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

/** Monotonic nanoseconds at the kernel tick's resolution (CLOCK_MONOTONIC_COARSE:
 * ~8 ns a call against ~30 ns for NowNs), for time budgets on the task path. */
inline u64 CoarseNowNs() noexcept {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
  return static_cast<u64>(t.tv_sec) * 1000000000u + static_cast<u64>(t.tv_nsec);
}

}  // namespace chi

#define CHI_CUR_WORKER (::chi::Worker::Current())
