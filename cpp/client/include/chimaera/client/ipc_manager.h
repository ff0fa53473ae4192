#pragma once
/**
 * @file ipc_manager.h
 * `chi::IpcManager` (`CHI_IPC_MANAGER`): this process's connection to the
 * runtime's shared memory (DESIGN.md §3, seeds 002/003).
 *
 * Client flavour: `ClientInit` attaches to a running runtime's segment and
 * finds its process queue; it throws RuntimeUnavailable with a clear message
 * when no runtime runs for this user and port. The runtime process instead
 * adopts the segment it created (`ServerAdopt`, called by the runtime).
 *
 * Task lifecycle: NewTask<T>(mctx, args...) constructs T in shared memory
 * (T's constructor takes `const hipc::CtxAllocator<CHI_ALLOC_T> &` first, as
 * in seed 002); Enqueue pushes it to a process-queue lane (one lane per
 * submitting thread, so each thread's tasks stay in order; a task whose
 * DomainQuery is Dynamic promises no order and takes the thread's next lane
 * round-robin, so every worker routes some) and rings the lane's worker; the
 * caller then waits (task->Wait()) and DelTask frees it.
 *
 * Thread-safety: after Init, every method may be called concurrently from
 * any thread. Init/Finalize are not concurrent with anything.
 */
#include <memory>
#include <string>

#include "chimaera/core/runtime_shared.h"
#include "chimaera/core/task.h"
#include "chimaera/ipc/segment.h"
#include "chimaera/ipc/shm_error.h"

namespace chi {

class IpcManager {
 public:
  /** The process-wide instance. */
  static IpcManager *Get() noexcept;

  /** Attach to the runtime on `port` (0: $CHI_PORT, else 9413) and, for a
   * node of a cluster sharing this machine and port with others, `host`
   * ("": $CHI_HOST; see FindRuntimeSegment). Throws RuntimeUnavailable naming
   * the segment when no live runtime is found, naming both versions when the
   * runtime's kChimaeraAbiVersion differs, and listing the nodes when the
   * choice is ambiguous. A second call while attached to a live runtime with
   * the same port and host does nothing; otherwise the old attachment is
   * dropped first. */
  void ClientInit(u16 port = 0, const std::string &host = "");
  /** ClientInit, retried every 2 ms for up to `wait_ms` while no runtime
   * serves yet (e.g. one that was just launched). Throws RuntimeUnavailable
   * after the wait. */
  void ClientInitWait(u16 port, int wait_ms, const std::string &host = "");
  /** Runtime only: use the segment the runtime created and its root. */
  void ServerAdopt(ipc::Segment *segment, RuntimeShared *shared) noexcept;
  /** Detach (client) / forget (runtime). Tasks still pending are not freed. */
  void Finalize() noexcept;
  bool IsInitialized() const noexcept { return shared_ != nullptr; }

  ipc::Allocator &GetAllocator() noexcept { return alloc_; }
  RuntimeShared &Shared() noexcept { return *shared_; }
  WorkerShared *Workers() noexcept { return workers_; }
  TaskQueue &ProcessQueue() noexcept { return *process_queue_; }
  u16 Port() const noexcept { return port_; }
  /** The host the client asked for ("" when found by port alone). */
  const std::string &Host() const noexcept { return host_; }
  /** The name of the segment attached to. */
  std::string SegmentName() const { return segment_ ? segment_->Name() : std::string(); }

  /** Construct a task in shared memory. Waits (up to ~1 s, backing off) when
   * the segment is momentarily full of in-flight tasks, then throws
   * ipc::ShmOutOfMemory. Exceptions from T's constructor propagate. */
  template <typename TaskT, typename... Args>
  ipc::FullPtr<TaskT> NewTask(const ipc::MemContext &mctx, Args &&...args) {
    ipc::Pointer p = AllocateTaskMemory(sizeof(TaskT));
    ipc::FullPtr<TaskT> task(alloc_.Convert<TaskT>(p), p);
    try {
      new (task.ptr_) TaskT(ipc::CtxAllocator<CHI_ALLOC_T>(mctx, alloc_), std::forward<Args>(args)...);
    } catch (...) {
      alloc_.Free(p);
      throw;
    }
    task->type_id_ = TaskTypeId<TaskT>();  // checked by the generated dispatch
    return task;
  }
  /** Destroy and free a task made by NewTask (after it completed). */
  template <typename TaskT>
  void DelTask(ipc::FullPtr<TaskT> task) noexcept {
    if (task.IsNull()) return;
    task.ptr_->~TaskT();
    alloc_.Free(task.shm_);
  }
  /** Submit a task. Never drops it: when its lane is full, backs off (spin,
   * then sleep) until there is room; throws RuntimeUnavailable if the
   * runtime died or is stopping in the meantime. */
  template <typename TaskT>
  void Enqueue(const ipc::FullPtr<TaskT> &task) {
    EnqueuePointer(task.shm_);
  }
  void EnqueuePointer(ipc::Pointer task);

  /** Runtime only: what a full lane makes Enqueue do instead of sleeping (a
   * worker must yield its task's coroutine, or it would wait on itself). */
  void SetFullLaneBackoff(void (*backoff)()) noexcept { full_lane_backoff_ = backoff; }

  /** A fresh TaskNode root id (unique per runtime). */
  TaskNode NewTaskNode() noexcept {
    return TaskNode{shared_->next_task_id_.fetch_add(1, std::memory_order_relaxed), 0};
  }
  /** Whether the runtime process that owns the segment still lives. Costs a
   * /proc read (~10 µs): for slow paths only. */
  bool IsRuntimeAlive() const noexcept;

 private:
  ipc::Pointer AllocateTaskMemory(std::size_t bytes);
  std::unique_ptr<ipc::Segment> owned_segment_;  // client: the attachment
  ipc::Segment *segment_ = nullptr;
  ipc::Allocator alloc_;
  RuntimeShared *shared_ = nullptr;
  WorkerShared *workers_ = nullptr;
  TaskQueue *process_queue_ = nullptr;
  u16 port_ = 0;
  std::string host_;
  u64 runtime_start_ticks_ = 0;
  void (*full_lane_backoff_)() = nullptr;
};

/** Called by Enqueue when it had to wake a parked worker; ClientWait then
 * skips its pause-spin (the answer needs a futex wake-up anyway, and a
 * spinning client would sit on the core the woken worker may be placed on).
 * Per thread. */
void NoteWokeParkedWorker() noexcept;
/** True (once) when this thread's last Enqueue woke a parked worker. */
bool TakeWokeParkedWorker() noexcept;
/** Called by Enqueue with every task it queued: ClientWait polls for a task
 * addressed to another node only when it is the last one its thread
 * enqueued (the submit-and-wait pattern, nothing else of this thread's in
 * flight); a thread waiting in a window of tasks parks at once. Per thread. */
void NoteEnqueued(const Task *task) noexcept;

/** Default runtime port: $CHI_PORT when set and valid, else 9413. */
u16 DefaultPort() noexcept;
/** Default node host: $CHI_HOST, else "" (find the node by port alone). */
std::string DefaultHost();

/** The runtime instance a segment name carries (Segment::MakeName): "<port>"
 * for a single-node runtime, "<port>_<host>" for a node of a cluster, whose
 * host is its node-table entry (several nodes may share a machine and a
 * port, each on its own address). */
std::string RuntimeInstance(u16 port, const std::string &host = "");

/** The segment of the runtime a client on this machine means by `port` and
 * `host` (DESIGN.md §7): with a host, that node's; without, the single-node
 * runtime on that port if it lives, else the one live node of a cluster on
 * that port. Throws RuntimeUnavailable when several live nodes share the
 * port (the message lists their hosts and asks for CHI_HOST). Returns the
 * single-node name when nothing lives (the caller's attach then fails with
 * the usual message). */
std::string FindRuntimeSegment(u16 port, const std::string &host = "");

}  // namespace chi

#define CHI_IPC_MANAGER (::chi::IpcManager::Get())
