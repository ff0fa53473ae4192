#pragma once
/**
 * @file runtime.h
 * `chi::Runtime` (`CHI_RUNTIME`): the runtime process's singletons and its
 * lifecycle (DESIGN.md §3, §8). Start() creates the segment (refusing a live
 * runtime's, reclaiming a dead one's), ServerInitQueues (the process queue),
 * the workers, loads the modules and creates the admin pool, then publishes
 * the root so clients can connect. Stop() stops the workers, fails every task
 * still queued or blocked with kTaskRuntimeStopping, and unlinks the segment.
 */
#include <memory>

#include "chimaera/core/runtime_shared.h"
#include "chimaera/ipc/segment.h"
#include "chimaera/runtime/config.h"
#include "chimaera/runtime/module_manager.h"
#include "chimaera/runtime/pool_manager.h"
#include "chimaera/runtime/work_orchestrator.h"

namespace chi {

class Runtime {
 public:
  static Runtime *Get() noexcept;

  /** Bring the runtime up. Throws ipc::ShmError (live runtime, /dev/shm
   * full), std::runtime_error (admin module missing). */
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
  ipc::Allocator &GetAllocator() noexcept { return segment_->GetAllocator(); }
  WorkerShared *Workers() noexcept { return workers_; }
  ModuleManager &Modules() noexcept { return modules_; }
  PoolManager &Pools() noexcept { return pools_; }
  WorkOrchestrator &Orchestrator() noexcept { return orchestrator_; }

 private:
  void ServerInitQueues();
  void CreateAdminPool();
  void DrainLane(TaskLane &lane);

  ServerConfig config_;
  std::unique_ptr<ipc::Segment> segment_;
  RuntimeShared *shared_ = nullptr;
  u32 node_id_ = 0;
  WorkerShared *workers_ = nullptr;
  ModuleManager modules_;
  PoolManager pools_;
  WorkOrchestrator orchestrator_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace chi

#define CHI_RUNTIME (::chi::Runtime::Get())
