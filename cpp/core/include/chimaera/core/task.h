#pragma once
/**
 * @file task.h
 * `chi::Task`: the base of every task. Tasks live in shared memory and have no
 * virtual functions (a vtable pointer differs between processes), which is
 * why dispatch by method id is generated per module (DESIGN.md §5).
 *
 * Completion protocol (DESIGN.md §3.3-3.4), on the 32-bit futex word
 * `completion_`:
 *   kPending (0) --client parks--> kPendingWaiter (1) --runtime--> kComplete (2)
 *   kPending (0) --------------------runtime-------------------> kComplete (2)
 * The runtime's SetComplete() is a release exchange to kComplete and issues a
 * futex wake only when it replaced kPendingWaiter, so a spinning client costs
 * no syscall. The client's Wait() acquires on reading kComplete, after which
 * every OUT field written by Run is visible.
 *
 * `Wait()` differs between client and runtime (seed 003): compiled with
 * CHIMAERA_RUNTIME it suspends the calling task's coroutine (RuntimeWait, in
 * chimaera::runtime); otherwise it spins briefly and then parks on the futex
 * (ClientWait, in chimaera::client), reporting a dead runtime within ~1 s.
 *
 * Thread-safety: a task is written by its creator before Enqueue, by exactly
 * one worker while it runs, and read by the creator after completion.
 */
#include <atomic>
#include <cstddef>
#include <string_view>
#include <typeinfo>

#include "chimaera/core/domain_query.h"
#include "chimaera/core/ids.h"
#include "chimaera/core/task_error.h"
#include "chimaera/ipc/mem_context.h"
#include "chimaera/ipc/shm_string.h"

/** Documentation markers for task fields (seed 002): IN fields are read by
 * the runtime, OUT fields written by it, INOUT both. They expand to nothing. */
#define IN
#define OUT
#define INOUT

namespace chi {

/** Bit flags of a task. */
struct TaskFlags {
  u32 bits_ = 0;
  void SetBits(u32 b) noexcept { bits_ |= b; }
  void UnsetBits(u32 b) noexcept { bits_ &= ~b; }
  bool Any(u32 b) const noexcept { return (bits_ & b) != 0; }
  template <typename Ar> void serialize(Ar &ar) { ar(bits_); }
};
/** The runtime deletes the task after it completes; nobody waits on it. */
inline constexpr u32 TASK_FIRE_AND_FORGET = 1u << 0;
/** Set by the runtime on a task spawned by another task running in it. */
inline constexpr u32 TASK_IS_SUBTASK = 1u << 1;
/** Set by the remote queue on a task it rebuilt from a peer's request: when
 * it completes, the runtime hands it back to the remote queue (which sends
 * its outputs to the peer and frees it) instead of waking a waiter. */
inline constexpr u32 TASK_REMOTE = 1u << 2;
/** Set by the runtime on a replica of a fan-out task (DomainQuery::GetRange
 * / GetBroadcast): when it completes, the runtime merges it into the
 * original (ReplicaSet) instead of waking a waiter. Never sent to a peer. */
inline constexpr u32 TASK_REPLICA = 1u << 3;

enum TaskCompletion : u32 { kPending = 0, kPendingWaiter = 1, kComplete = 2 };

/** The type identity of task type T (DESIGN.md §5: dispatch checks it
 * before it casts): FNV-1a 64 of T's mangled name (the Itanium C++ ABI's,
 * so GCC and Clang builds agree) mixed with sizeof(T), so one type's layout
 * changed between two builds is another identity. Never 0. Computed once per
 * type and process. Thread-safe. */
u64 TaskTypeIdOf(const char *mangled_name, std::size_t size) noexcept;
template <typename T>
u64 TaskTypeId() noexcept {
  static const u64 id = TaskTypeIdOf(typeid(T).name(), sizeof(T));
  return id;
}

class Task;
/** Client-side wait: bounded spin, then park on the futex; gives up with
 * kTaskRuntimeDead when the runtime process dies. Returns false only when
 * `timeout_us` (>= 0) elapsed first. Defined in chimaera::client. */
bool ClientWait(Task *task, i64 timeout_us) noexcept;
/** Runtime-side wait (seed 003): suspends the calling task's coroutine until
 * `task` completes. Defined in chimaera::runtime. */
void RuntimeWait(Task *task);

class Task {
 public:
  // Layout: the fields a worker reads or writes for every task (routing,
  // dispatch, completion) come first, so that with the allocator's 16-byte
  // block header they share one cache line (blocks are 64-byte aligned). On
  // success the worker touches neither task_node_ nor error_ (which start in
  // and fill the second line); a derived task's own fields follow them. This
  // saves cache-line transfers between the client's and the worker's cores.
  // The static_assert below keeps the hot fields in the first line.
  IN PoolId pool_;
  IN MethodId method_ = 0;
  IN u32 prio_ = 0;
  IN DomainQuery dom_query_;
  IN TaskFlags task_flags_;
  /** kPending / kPendingWaiter / kComplete (see file comment). */
  std::atomic<u32> completion_{kPending};
  /** 1 + id of the runtime worker that has a task blocked on this one (0:
   * none). The completer rings that worker's doorbell. seq_cst on both sides
   * (store + re-check by the waiter, exchange + load by the completer) so
   * either the waiter sees completion or the completer sees the waiter. */
  std::atomic<u32> waiter_worker_{0};
  OUT i32 return_code_ = kTaskOk;
  /** TaskTypeId of the task's concrete type, set by IpcManager::NewTask (0:
   * made another way, matches no method). The generated dispatch runs a
   * method only on a task of the type it expects: a client cannot make the
   * runtime read or write outside a task. */
  IN u64 type_id_ = 0;
  IN TaskNode task_node_;
  OUT ipc::string error_;  /**< message when return_code_ != 0 */

  /** SHM default constructor (seed 002). */
  explicit Task(const ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : error_(alloc.Get()) {}
  Task(const Task &) = delete;
  Task &operator=(const Task &) = delete;

  bool IsComplete() const noexcept { return completion_.load(std::memory_order_acquire) == kComplete; }
  bool HasError() const noexcept { return return_code_ != kTaskOk; }
  /** Record an error (code + message). Called by the runtime (or by the
   * client when the runtime died) before SetComplete. */
  void SetError(i32 code, std::string_view msg) {
    return_code_ = code;
    try {
      error_ = msg;
    } catch (...) {
      // Allocator full: keep the code; the message is best-effort.
    }
  }
  /** Throws TaskError(code, "<name>: <message>") when the task failed. */
  void ThrowIfError() const {
    if (return_code_ != kTaskOk)
      throw TaskError(return_code_, std::string(TaskErrorName(return_code_)) + ": " + error_.str());
  }
  /** Wait for completion (client or runtime flavour, see file comment). */
  __attribute__((always_inline)) inline void Wait() {
#ifdef CHIMAERA_RUNTIME
    RuntimeWait(this);
#else
    ClientWait(this, -1);
#endif
  }
  /** Client only: wait at most `timeout_us` µs; false on timeout. */
  bool Wait(i64 timeout_us) noexcept { return ClientWait(this, timeout_us); }
};

/** Whether `task` is a TaskT (its type_id_ is TaskTypeId<TaskT>()). */
template <typename TaskT>
bool IsTaskOfType(const Task *task) noexcept {
  return task->type_id_ == TaskTypeId<TaskT>();
}

// The per-task hot fields fit in the first cache line of the task's block
// (64 bytes minus the allocator's 16-byte header); see the layout comment.
static_assert(offsetof(Task, type_id_) + sizeof(u64) <= 64 - 16, "hot Task fields must share one cache line");

}  // namespace chi
