#pragma once
/**
 * @file remote_queue.h
 * `chi::RemoteQueue`: all the runtime knows of the remote queue (seeds
 * 000/001 "Worker": a task that does not resolve to this node is handed to
 * the local remote queue container; DESIGN.md §7 "Life of a remote task").
 * The `remote_queue` ChiMod (cpp/chimods/remote_queue) implements it over
 * chimaera::net; the runtime creates its pool (kRemoteQueuePoolId) at start
 * when the configuration has a node table, and has none otherwise.
 *
 * Thread-safety: Submit, Return and Flush are called by any worker,
 * concurrently (what one worker queued, only its own Flush sends); Submit and
 * Return from another thread send at once. Start and Shutdown by the
 * runtime's main thread, once each.
 */
#include "chimaera/core/task.h"
#include "chimaera/runtime/config.h"

namespace chi {

class Container;

class RemoteQueue {
 public:
  virtual ~RemoteQueue();
  /** Bind this node's address and start the transport. Throws
   * std::runtime_error naming the address when it cannot. */
  virtual void Start(const ServerConfig &config, const ClusterConfig &cluster) = 0;
  /** Worker: `task`, a task of `container`'s pool, resolved to `node` (not
   * this one). Serialize it (SaveIn), send it, and complete it when the peer's
   * outputs (LoadOut) or a failure come back; the client's Wait cannot tell
   * it from a local task. Never throws: a failure completes the task with an
   * error (kTaskNodeUnreachable, kTaskTimedOut, kTaskBadArgument). */
  virtual void Submit(ipc::FullPtr<Task> task, Container *container, u32 node) noexcept = 0;
  /** Runtime::CompleteTask: `task` was rebuilt from a peer's request
   * (TASK_REMOTE) and is done: send its outputs to the peer and free it. */
  virtual void Return(ipc::FullPtr<Task> task) noexcept = 0;
  /** Worker, after each busy loop iteration (and before it stops): what
   * Submit and Return queued on this worker during the iteration leaves now,
   * one message per peer (a worker drains up to 64 tasks per lane, so a
   * stream of remote tasks costs one network message per batch, not per
   * task; a lone task leaves at the end of the iteration that handled it). */
  virtual void Flush() noexcept = 0;
  /** Runtime::Stop, after the workers stopped: send the replies queued,
   * say goodbye, fail the tasks still waiting on peers (kTaskRuntimeStopping). */
  virtual void Shutdown() noexcept = 0;
  /** Global scheduling (Monitor(kGlobalSchedule), seeds 000/001): node
   * `node`'s queued work as its last heartbeat reported it (µs of kEstLoad
   * estimates, Runtime::QueuedWorkUs there) and this node's requests to it
   * not answered yet. False when the node is not alive or not a peer. Any
   * thread; a short lock, no allocation. */
  virtual bool NodeLoad(u32 node, u64 *queued_us, u64 *requests_in_flight) const noexcept = 0;
};

}  // namespace chi
