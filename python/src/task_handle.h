#pragma once
/**
 * @file task_handle.h
 * `chi::py::TaskHandle`: the Python-visible owner of one in-flight task
 * (DESIGN.md §10 "futures"). It frees the shared-memory task as soon as it
 * sees it complete, caching the return code, message and result, so a handle
 * that outlives its task costs no shared memory.
 *
 * Thread-safety: every method is called with the GIL held. Waiting releases
 * the GIL; `waiters_` counts the threads waiting with the GIL released, and
 * the task is freed only when no thread waits on it (so a second thread never
 * frees memory a first one still polls). A handle dropped while its task is
 * still running hands the task to the graveyard, reaped by later calls.
 *
 * Connection epochs: `disconnect()` unmaps the segment, so every handle
 * remembers the epoch it was created in; a handle from an older epoch never
 * touches shared memory again (its task is leaked with the mapping).
 */
#include <pybind11/pybind11.h>

#include <chrono>
#include <string>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/core/task.h"

namespace chi::pyb {

namespace py = pybind11;

/** What a completed task yields to Python. */
enum class ResultKind : int { kNone = 0, kPoolId = 1 };

/** Destroys a task of its concrete type (DelTask<T>), and whatever shared
 * memory it owns (e.g. the data buffers of module tasks). */
using TaskDeleter = void (*)(ipc::FullPtr<Task>);
/** Builds the Python result of a successfully completed task (GIL held),
 * e.g. copies its output buffer into `bytes`; for module tasks. */
using ResultFn = py::object (*)(Task *);
/** The same through the C API of module extensions (chimaera/python/
 * task_api.h): a new reference, or nullptr with a Python error set. */
using RawResultFn = PyObject *(*)(Task *);

template <typename T>
void DeleteTaskAs(ipc::FullPtr<Task> t) {
  CHI_IPC_MANAGER->DelTask(ipc::FullPtr<T>(t));
}

/** Current connection epoch (bumped by disconnect/reconnect). */
u64 Epoch() noexcept;
/** Start a new epoch and wait (GIL released) until every ShmAccess of older
 * epochs ended, so the caller may then unmap the segment. Called with the
 * GIL held, before IpcManager::Finalize. */
void RetireEpoch();

/** Scope of a GIL-released region that touches shared memory (a waiting
 * thread). Construct it after releasing the GIL; touch task memory only while
 * Valid(). RetireEpoch waits for every live ShmAccess, so a disconnect never
 * unmaps memory under a waiting thread (seq_cst on both counters: either the
 * waiter sees the new epoch, or the retirer sees the waiter). */
class ShmAccess {
 public:
  explicit ShmAccess(u64 epoch) noexcept;
  ~ShmAccess();
  ShmAccess(const ShmAccess &) = delete;
  ShmAccess &operator=(const ShmAccess &) = delete;
  /** False once a disconnect began: stop touching task memory. */
  bool Valid() const noexcept;

 private:
  u64 epoch_;
};
/** True while connected in the current epoch. */
bool Connected() noexcept;
/** Hand a still-running task to the graveyard (freed once complete). */
void Bury(ipc::FullPtr<Task> task, TaskDeleter del) noexcept;
/** Free every buried task that has completed. Cheap when empty. */
void ReapGraveyard() noexcept;
/** Forget buried tasks (their segment is about to be unmapped). */
void ClearGraveyard() noexcept;

/** Raise chimaera.TaskError(code, message) (throws py::error_already_set). */
[[noreturn]] void ThrowTaskError(int code, const std::string &message);
/** Raise chimaera.RuntimeUnavailableError(message). */
[[noreturn]] void ThrowUnavailable(const std::string &message);
/** Raise TaskError if `task` failed (does not free it). */
void CheckTask(const Task *task);

/** Wait for `task` with the GIL released, in slices, checking Python signals
 * between slices (so Ctrl-C interrupts: the KeyboardInterrupt propagates and
 * the task stays valid). `timeout_s` < 0: no limit. Returns false on
 * timeout. Raises RuntimeUnavailableError when `epoch` is retired (disconnect)
 * meanwhile. Must be called with the GIL held. */
bool WaitReleasingGil(Task *task, double timeout_s, u64 epoch);

class TaskHandle {
 public:
  TaskHandle(ipc::FullPtr<Task> task, TaskDeleter del, ResultKind kind);
  /** A handle whose result is `fn(task)` (called once, on success). */
  TaskHandle(ipc::FullPtr<Task> task, TaskDeleter del, ResultFn fn);
  /** A handle of a module extension's task (task_api.h make_handle). */
  TaskHandle(ipc::FullPtr<Task> task, TaskDeleter del, RawResultFn fn);
  ~TaskHandle();
  TaskHandle(const TaskHandle &) = delete;
  TaskHandle &operator=(const TaskHandle &) = delete;

  /** Completed (successfully or not)? Never blocks. */
  bool Done();
  /** Wait up to `timeout_s` seconds (None/negative: forever); true when done. */
  bool Wait(double timeout_s);
  /** Wait, then return the result (None or the pool id) or raise TaskError. */
  py::object Result(double timeout_s);
  /** Return code once done (0: success); -1 while pending. */
  int Code();
  /** Error message once done ("" on success). */
  std::string Message();
  /** The task while still held (null once freed); for wait_all/wait_any. */
  Task *Raw() const noexcept { return task_.ptr_; }
  bool Stale() const noexcept { return epoch_ != Epoch(); }
  /** Cache the outcome and free the task, if complete and nobody waits. */
  void Harvest();
  int waiters_ = 0;

 private:
  /** The result of the completed, successful task (raises on failure). */
  py::object BuildResult(Task *t);
  ipc::FullPtr<Task> task_;
  TaskDeleter del_;
  ResultKind kind_;
  u64 epoch_;
  bool done_ = false;
  int code_ = 0;
  std::string message_;
  u64 value_ = 0;
  ResultFn result_fn_ = nullptr;
  RawResultFn raw_result_fn_ = nullptr;
  py::object result_;
};

/** For loops that run with the GIL released: at most every 50 ms, take the
 * GIL and ask Python whether a signal (Ctrl-C) is pending. The Python error
 * stays set for the caller to raise once the loop has cleaned up. */
class InterruptPoller {
 public:
  /** True when a signal handler raised (KeyboardInterrupt and the like). */
  bool Interrupted() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < std::chrono::milliseconds(50)) return false;
    last_check_ = now;
    py::gil_scoped_acquire acquire;
    return PyErr_CheckSignals() != 0;
  }

 private:
  std::chrono::steady_clock::time_point last_check_ = std::chrono::steady_clock::now();
};

}  // namespace chi::pyb
