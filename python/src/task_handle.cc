// TaskHandle and the waiting helpers of chimaera._core (see task_handle.h).
#include "task_handle.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <mutex>
#include <vector>

#include "admin/admin_tasks.h"

namespace chi::pyb {
namespace {

// Slices of a GIL-released wait: short enough that Ctrl-C is felt at once,
// long enough that a parked waiter costs nothing.
constexpr i64 kWaitSliceUs = 50000;

std::atomic<u64> g_epoch{1};
std::atomic<int> g_active{0};  // live ShmAccess scopes

struct Buried {
  ipc::FullPtr<Task> task;
  TaskDeleter del;
};
std::mutex g_grave_mu;
std::vector<Buried> g_grave;

py::object ErrorType(const char *name) {
  // Leaked on purpose: must outlive interpreter teardown order.
  static py::module_ *mod = new py::module_(py::module_::import("chimaera._errors"));
  return mod->attr(name);
}

}  // namespace

u64 Epoch() noexcept { return g_epoch.load(); }

void RetireEpoch() {
  g_epoch.fetch_add(1);
  if (g_active.load() == 0) return;
  py::gil_scoped_release release;  // waiters may need the GIL to leave
  while (g_active.load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

ShmAccess::ShmAccess(u64 epoch) noexcept : epoch_(epoch) { g_active.fetch_add(1); }
ShmAccess::~ShmAccess() { g_active.fetch_sub(1); }
bool ShmAccess::Valid() const noexcept { return g_epoch.load() == epoch_; }
bool Connected() noexcept { return CHI_IPC_MANAGER->IsInitialized(); }

void Bury(ipc::FullPtr<Task> task, TaskDeleter del) noexcept {
  std::lock_guard<std::mutex> lk(g_grave_mu);
  try {
    g_grave.push_back({task, del});
  } catch (...) {
    // Out of memory: leak the task rather than free it while it runs.
  }
}

void ReapGraveyard() noexcept {
  std::lock_guard<std::mutex> lk(g_grave_mu);
  if (g_grave.empty()) return;
  std::size_t keep = 0;
  for (auto &b : g_grave) {
    if (b.task->IsComplete()) b.del(b.task);
    else g_grave[keep++] = b;
  }
  g_grave.resize(keep);
}

void ClearGraveyard() noexcept {
  std::lock_guard<std::mutex> lk(g_grave_mu);
  g_grave.clear();
}

void ThrowTaskError(int code, const std::string &message) {
  py::object exc = ErrorType("TaskError")(code, message);  // TaskError picks its subclass (NodeUnreachableError)
  PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

void ThrowUnavailable(const std::string &message) {
  PyErr_SetString(ErrorType("RuntimeUnavailableError").ptr(), message.c_str());
  throw py::error_already_set();
}

void CheckTask(const Task *task) {
  if (task->HasError())
    ThrowTaskError(task->return_code_,
                   std::string(TaskErrorName(task->return_code_)) + ": " + task->error_.str());
}

bool WaitReleasingGil(Task *task, double timeout_s, u64 epoch) {
  if (Epoch() != epoch) ThrowUnavailable("the task belongs to a closed connection (disconnect() was called)");
  if (task->IsComplete()) return true;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const i64 limit_us = timeout_s < 0 ? -1 : static_cast<i64>(timeout_s * 1e6);
  for (;;) {
    i64 slice = kWaitSliceUs;
    if (limit_us >= 0) {
      i64 left = limit_us - std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      if (left <= 0) return task->IsComplete();
      slice = std::min(slice, left);
    }
    bool ok = false, valid;
    {
      py::gil_scoped_release release;
      ShmAccess access(epoch);
      valid = access.Valid();
      if (valid) ok = ClientWait(task, slice);
    }
    if (!valid) ThrowUnavailable("disconnected from the runtime while waiting for a task");
    if (ok) return true;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

TaskHandle::TaskHandle(ipc::FullPtr<Task> task, TaskDeleter del, ResultKind kind)
    : task_(task), del_(del), kind_(kind), epoch_(Epoch()) {}

TaskHandle::TaskHandle(ipc::FullPtr<Task> task, TaskDeleter del, ResultFn fn)
    : task_(task), del_(del), kind_(ResultKind::kNone), epoch_(Epoch()), result_fn_(fn) {}

TaskHandle::TaskHandle(ipc::FullPtr<Task> task, TaskDeleter del, RawResultFn fn)
    : task_(task), del_(del), kind_(ResultKind::kNone), epoch_(Epoch()), raw_result_fn_(fn) {}

py::object TaskHandle::BuildResult(Task *t) {
  if (result_fn_ != nullptr) return result_fn_(t);
  PyObject *r = raw_result_fn_(t);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

TaskHandle::~TaskHandle() {
  if (task_.IsNull() || Stale()) return;
  if (task_->IsComplete()) del_(task_);
  else Bury(task_, del_);
}

void TaskHandle::Harvest() {
  if (done_ || task_.IsNull() || waiters_ > 0) return;
  if (Stale()) return;
  Task *t = task_.ptr_;
  if (!t->IsComplete()) return;
  code_ = t->return_code_;
  if (code_ != kTaskOk) message_ = std::string(TaskErrorName(code_)) + ": " + t->error_.str();
  if (kind_ == ResultKind::kPoolId)
    value_ = reinterpret_cast<chimaera::admin::CreatePoolTask *>(t)->pool_id_.id_;
  if ((result_fn_ != nullptr || raw_result_fn_ != nullptr) && code_ == kTaskOk) {
    try {
      result_ = BuildResult(t);
    } catch (...) {
      return;  // e.g. MemoryError: keep the task; Result() raises it again
    }
  }
  del_(task_);
  task_ = ipc::FullPtr<Task>();
  done_ = true;
}

bool TaskHandle::Done() {
  if (done_) return true;
  if (Stale()) ThrowUnavailable("the task belongs to a closed connection (disconnect() was called)");
  Harvest();
  return done_ || task_->IsComplete();
}

bool TaskHandle::Wait(double timeout_s) {
  if (Done()) {
    Harvest();
    return true;
  }
  ++waiters_;
  bool ok;
  try {
    ok = WaitReleasingGil(task_.ptr_, timeout_s, epoch_);
  } catch (...) {
    --waiters_;
    throw;
  }
  --waiters_;
  if (ok) Harvest();
  return ok;
}

py::object TaskHandle::Result(double timeout_s) {
  if (!Wait(timeout_s)) {
    PyErr_SetString(PyExc_TimeoutError, "the task did not complete within the timeout");
    throw py::error_already_set();
  }
  Harvest();
  int code = done_ ? code_ : task_->return_code_;
  if (code != kTaskOk) {
    if (done_) ThrowTaskError(code_, message_);
    CheckTask(task_.ptr_);
  }
  if (result_fn_ != nullptr || raw_result_fn_ != nullptr) return done_ ? result_ : BuildResult(task_.ptr_);
  if (kind_ == ResultKind::kPoolId) {
    u64 v = done_ ? value_ : reinterpret_cast<chimaera::admin::CreatePoolTask *>(task_.ptr_)->pool_id_.id_;
    return py::int_(v);
  }
  return py::none();
}

int TaskHandle::Code() {
  if (!Done()) return -1;
  Harvest();
  return done_ ? code_ : task_->return_code_;
}

std::string TaskHandle::Message() {
  if (!Done()) return "";
  Harvest();
  if (done_) return message_;
  return task_->HasError() ? std::string(TaskErrorName(task_->return_code_)) + ": " + task_->error_.str() : "";
}

}  // namespace chi::pyb
