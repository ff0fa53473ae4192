#pragma once
/**
 * @file runtime.h
 * `chi::Runtime` (`CHI_RUNTIME`): the runtime process's singletons and its
 * lifecycle (DESIGN.md §3, §8). Start() creates the segment (refusing a live
 * runtime's, reclaiming a dead one's), ServerInitQueues (the process queue),
 * the workers, loads the modules and creates the admin pool, then publishes
 * the root so clients can connect. With a node table (config `networking:`)
 * it also resolves this node's id, names its segment after the node
 * ("<port>_<host>") and starts the remote queue (remote_queue.h). Stop()
 * stops the workers, fails every task still queued or blocked with
 * kTaskRuntimeStopping, stops the remote queue, and unlinks the segment.
 */
#include <memory>

#include "chimaera/core/runtime_shared.h"
#include "chimaera/ipc/segment.h"
#include "chimaera/runtime/config.h"
#include "chimaera/runtime/module_manager.h"
#include "chimaera/runtime/pool_manager.h"
#include "chimaera/runtime/remote_queue.h"
#include "chimaera/runtime/replica_set.h"
#include "chimaera/runtime/work_orchestrator.h"

namespace chi {

class Runtime {
 public:
  static Runtime *Get() noexcept;

  /** Bring the runtime up. Throws ipc::ShmError (live runtime, /dev/shm
   * full), ConfigError (bad hostfile, this node not found in it),
   * std::runtime_error (admin or remote_queue module missing, address in
   * use). */
  void Start(const ServerConfig &config);
  /** Block until RequestStop() or SIGINT/SIGTERM (when `handle_signals`). */
  void WaitForStop(bool handle_signals);
  /** Ask for a stop (any thread, e.g. the admin's kStopRuntime). */
  void RequestStop() noexcept;
  /** Stop workers, fail in-flight tasks, unlink the segment. Idempotent. */
  void Stop();

  /** Fail `task` with `code`/`msg` and complete it (any worker). */
  void FailTask(ipc::FullPtr<Task> task, i32 code, const std::string &msg);
  /** Mark `task` complete and wake its waiter (futex or worker doorbell). */
  void CompleteTask(ipc::FullPtr<Task> task) noexcept;
  /** Whether `p` addresses a plausible task inside our segment (a corrupt
   * Pointer from a client must not crash the runtime). */
  bool IsValidTaskPointer(ipc::Pointer p) const noexcept;

  const ServerConfig &Config() const noexcept { return config_; }
  RuntimeShared &Shared() noexcept { return *shared_; }
  /** This node's id (a private copy of RuntimeShared::node_id_: routing reads it per task). */
  u32 NodeId() const noexcept { return node_id_; }
  /** The node table and this node's place in it (empty table: one node). */
  const ClusterConfig &Cluster() const noexcept { return cluster_; }
  /** The remote queue, or nullptr on a single-node runtime. */
  RemoteQueue *GetRemoteQueue() const noexcept { return remote_queue_; }
  /** This node's queued work: the sum of its containers' QueuedWorkUs (µs).
   * Any thread; takes the pool manager's lock. */
  u64 QueuedWorkUs() const;
  ipc::Allocator &GetAllocator() noexcept { return segment_->GetAllocator(); }
  WorkerShared *Workers() noexcept { return workers_; }
  ModuleManager &Modules() noexcept { return modules_; }
  PoolManager &Pools() noexcept { return pools_; }
  /** Fan-out tasks in flight (DomainQuery::GetRange / GetBroadcast). */
  ReplicaSet &Replicas() noexcept { return replicas_; }
  WorkOrchestrator &Orchestrator() noexcept { return orchestrator_; }

 private:
  void ServerInitQueues();
  void CreateAdminPool();
  void CreateRemoteQueuePool();
  void SpanEveryNode(Container &c) const;
  void DrainLane(TaskLane &lane);

  ServerConfig config_;
  std::unique_ptr<ipc::Segment> segment_;
  RuntimeShared *shared_ = nullptr;
  u32 node_id_ = 0;
  ClusterConfig cluster_;
  RemoteQueue *remote_queue_ = nullptr;  // owned by its pool's container
  WorkerShared *workers_ = nullptr;
  ModuleManager modules_;
  PoolManager pools_;
  ReplicaSet replicas_;
  WorkOrchestrator orchestrator_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace chi

#define CHI_RUNTIME (::chi::Runtime::Get())
