#pragma once
/**
 * @file container.h
 * `chi::Container`: the runtime side of a ChiMod pool (seeds 001/002/004
 * "Container Server", DESIGN.md §5). One object per pool on this node, in
 * runtime-private memory. A module derives from it (usually through its
 * generated `<mod>_lib_exec.h`, which implements Run/Monitor/Del by a switch
 * over method ids) and is built with CHI_TASK_CC (module_api.h).
 *
 * Local queues: `CreateLocalQueue` allocates a TaskQueue in the segment and
 * asks the WorkOrchestrator to map each of its lanes to a worker;
 * `GetLane`/`GetLaneByHash` pick a lane for Monitor(kLocalSchedule).
 *
 * Thread-safety: Run/Monitor are called by the workers owning the lanes the
 * tasks are routed to: a module whose tasks share state across lanes must
 * synchronise it. CreateLocalQueue is called from Create (one thread).
 */
#include <string>
#include <vector>

#include "chimaera/core/monitor_mode.h"
#include "chimaera/core/task.h"
#include "chimaera/core/task_archives.h"
#include "chimaera/core/task_queue.h"
#include <atomic>

#include "chimaera/runtime/run_context.h"

namespace chi {

class Container {
 public:
  /** container_id_ of a node that holds no container of the pool (it keeps
   * a Container object all the same, to schedule and serialize its tasks). */
  static constexpr ContainerId kNoContainer = ~ContainerId{0};

  PoolId pool_id_;            /**< unique id of the pool (the same on every node) */
  std::string pool_name_;     /**< unique semantic name of the pool (cluster-wide) */
  /** This node's container of the pool (DomainQuery::GetDirectId), or
   * kNoContainer. */
  ContainerId container_id_ = 0;
  /** The pool's container -> node map: container c runs on node
   * container_nodes_[c]. The same on every node (DESIGN.md §7); set before
   * the pool is published, constant afterwards. */
  std::vector<u32> container_nodes_{0};
  /** Runtime-maintained: tasks of this container suspended on a worker
   * (waiting on a subtask, or yielded), plus the admin's DestroyPool while it
   * runs the module's Destroy. A retired container's queues are reclaimed
   * only at 0, when every worker sleeps (so none runs a task): the count
   * stays off the per-task path. */
  std::atomic<u32> tasks_suspended_{0};

  virtual ~Container() = default;

  /** Containers of the pool (on all its nodes). */
  u32 NumContainers() const noexcept { return static_cast<u32>(container_nodes_.size()); }
  /** Whether this node holds a container of the pool (else its tasks always
   * resolve to other nodes). */
  bool HasLocalContainer() const noexcept { return container_id_ != kNoContainer; }
  /** The container on node `node`, or kNoContainer. */
  ContainerId ContainerOnNode(u32 node) const noexcept {
    for (u32 c = 0; c < container_nodes_.size(); ++c)
      if (container_nodes_[c] == node) return c;
    return kNoContainer;
  }
  /** Merge a finished replica of a fan-out task (DomainQuery::GetRange /
   * GetBroadcast) into the original: called once per successful replica,
   * `first` for the first one, under the fan-out's lock (seeds 000/001;
   * DESIGN.md §7). The generated dispatch calls the module's
   * AggregateX(parent, replica, first) when it has one; the default copies
   * the first replica's OUT fields into the original (SaveOut + LoadOut).
   * Throws what the archives throw. */
  virtual void Aggregate(u32 method, ipc::FullPtr<Task> parent, ipc::FullPtr<Task> replica, bool first);
  /** Estimated work (µs, from Monitor(kEstLoad)) routed to this container
   * and not finished yet; the node's sum travels with its heartbeats for
   * global scheduling (Runtime::QueuedWorkUs). Default 0: a module that
   * places work by load keeps this figure. Any thread; must not block. */
  virtual u64 QueuedWorkUs() const noexcept { return 0; }

  /** Called by new_state (CHI_TASK_CC) right after construction. */
  void Init(const PoolId &pool_id, const std::string &pool_name) {
    pool_id_ = pool_id;
    pool_name_ = pool_name;
  }

  /** Create a lane group of `num_lanes` lanes (seed 002). Throws
   * std::runtime_error when the segment is out of memory or the id exists. */
  void CreateLocalQueue(QueueId queue_id, u32 num_lanes, IntFlag flags = 0);
  /** Lane `lane_id` of queue `queue_id` (modulo the lane count); nullptr when
   * the queue does not exist. Inline for the first queue: Monitor calls it for
   * every task, and a cold task should not pay a lookup in another library. */
  TaskLane *GetLane(QueueId queue_id, LaneId lane_id) {
    if (first_queue_ != nullptr && queue_id == first_queue_id_)
      return &first_queue_->GetLane(lane_id % first_queue_->GetNumLanes());
    return FindLane(queue_id, lane_id);
  }
  /** Lane chosen by `hash` (hash % num_lanes); nullptr when no such queue. */
  TaskLane *GetLaneByHash(QueueId queue_id, u32 hash) { return GetLane(queue_id, hash); }
  /** Every lane of every local queue (used to drain on stop). */
  std::vector<TaskLane *> AllLanes();
  /** Runtime only (LaneSweeper, for a retired container whose lanes no worker
   * can reach any more): free the local queues' shared memory; afterwards
   * the container has no lanes. */
  void FreeQueues(ipc::Allocator &alloc);

  /** Run method `method` of `task` (the generated switch calls X(task, rctx)).
   * An exception escaping Run fails the task with kTaskModuleException. */
  virtual void Run(u32 method, ipc::FullPtr<Task> task, RunContext &rctx) = 0;
  /** Monitor method `method` in phase `mode` (generated: MonitorX(mode, ...)). */
  virtual void Monitor(MonitorModeId mode, u32 method, ipc::FullPtr<Task> task, RunContext &rctx) = 0;
  /** Destroy and free a task of method `method` (its concrete type's dtor). */
  virtual void Del(const ipc::MemContext &ctx, u32 method, ipc::FullPtr<Task> task) = 0;

  // Serialization (seeds 000/001, DESIGN.md §7), generated per module: each
  // case calls the archive's SaveTaskIn/LoadTaskIn/... on the concrete task,
  // which serializes the Task base fields and calls SerializeIn/SerializeOut.
  // An unknown method throws ArchiveError; bad bytes throw ArchiveError.
  /** Serialize the IN/INOUT params of `task`. */
  virtual void SaveIn(u32 method, TaskOutputArchiveIN &ar, ipc::FullPtr<Task> task) = 0;
  /** Build a fresh task of `method` in shared memory from IN bytes (what a
   * remote node does); the caller owns it (Del). */
  virtual ipc::FullPtr<Task> LoadIn(u32 method, TaskInputArchiveIN &ar) = 0;
  /** Serialize the OUT/INOUT params (and return code + error) of `task`. */
  virtual void SaveOut(u32 method, TaskOutputArchiveOUT &ar, ipc::FullPtr<Task> task) = 0;
  /** Apply OUT bytes to the original `task`. */
  virtual void LoadOut(u32 method, TaskInputArchiveOUT &ar, ipc::FullPtr<Task> task) = 0;
  /** Duplicate `orig` into `dup` (seed 000): always deep (SaveIn + LoadIn);
   * `deep` is kept for the seed's signature. Tasks own their strings, not
   * their bulk buffers: a task with `bulk` fields gets fresh buffers in the
   * copy that Del does not free, so duplicate such tasks the way ReplicaSet
   * does (LoadIn, then free TaskInputArchiveIN::LoadedBulk() after the copy).
   * Throws what SaveIn/LoadIn throw. */
  virtual void NewCopy(u32 method, const ipc::FullPtr<Task> &orig, ipc::FullPtr<Task> &dup, bool deep);

 private:
  struct LocalQueue {
    QueueId id;
    ipc::FullPtr<TaskQueue> queue;
  };
  TaskLane *FindLane(QueueId queue_id, LaneId lane_id);

  std::vector<LocalQueue> queues_;
  TaskQueue *first_queue_ = nullptr;  // queues_[0] (GetLane's fast path)
  QueueId first_queue_id_ = 0;
};

}  // namespace chi
