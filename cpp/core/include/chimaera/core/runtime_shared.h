#pragma once
/**
 * @file runtime_shared.h
 * `RuntimeShared`: the root object the runtime publishes in its segment
 * (Segment::SetRoot) so clients can find the process queue and the workers'
 * doorbells. Written by the runtime before it publishes the root; only
 * `state_` and the counters change afterwards.
 */
#include <atomic>

#include "chimaera/core/task_queue.h"

namespace chi {

/** Bump whenever Task, the shared queues, Container or RunContext change
 * layout or vtable. Modules (ModuleManager) and clients (ClientInit) built
 * with another version are refused. 2: serialization virtuals; 3: Task field
 * order and the held-lane scheduling protocol; 4: Container caches its first
 * queue (inline GetLane); 5: pool ids carry a slot generation (inline
 * PoolManager::GetContainer); 6: remote tasks (TASK_REMOTE, the remote queue
 * interface, node-qualified segment names); 7: Task::type_id_ (type-checked
 * dispatch); 8: DomainQuery kinds and pools across nodes (Container map,
 * Aggregate, RemoteQueue::Submit node, TASK_REPLICA). */
inline constexpr u32 kChimaeraAbiVersion = 8;

enum RuntimeState : u32 { kRuntimeStarting = 0, kRuntimeRunning = 1, kRuntimeStopping = 2 };

struct RuntimeShared {
  static constexpr u64 kMagic = 0x5254534948430001ull;
  u64 magic_ = kMagic;
  u32 num_workers_ = 0;
  u32 node_id_ = 0;
  u32 runtime_pid_ = 0;
  u32 abi_version_ = 0;  /**< kChimaeraAbiVersion of the runtime: checked by ClientInit */
  /** kRuntimeRunning once workers serve; kRuntimeStopping when a stop began.
   * release-stored by the runtime, acquire-loaded by clients. */
  std::atomic<u32> state_{kRuntimeStarting};
  ipc::Pointer process_queue_;  /**< TaskQueue clients push onto */
  ipc::Pointer workers_;        /**< WorkerShared[num_workers_] */
  /** Source of TaskNode root ids (relaxed: uniqueness only). */
  std::atomic<u64> next_task_id_{1};
  /** Rung when the runtime should stop (kStopRuntime, signals). */
  ipc::EventCount stop_doorbell_;
};

}  // namespace chi
