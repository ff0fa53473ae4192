#pragma once
/**
 * @file task_api.h
 * The C API of `chimaera._core` for module extensions (issue 14): one
 * function that turns a submitted task into a `chimaera._core.TaskHandle`,
 * the object `chimaera.Future` wraps, so every module's Python binding gets
 * futures (done, result(timeout), await, as_completed, wait_all) with the GIL
 * released while waiting, and one copy of the handle's state (connection
 * epoch, graveyard of dropped tasks) shared by all extensions.
 *
 * The generated `<mod>_python.cc` uses it; a hand-written extension can too:
 *
 *   const chi::pyapi::TaskApi *api = chi::pyapi::ImportTaskApi();  // in PYBIND11_MODULE
 *   PyObject *handle = api->make_handle(task.Cast<chi::Task>(), &MyDelete, &MyResult);
 *   future = chimaera.Future(handle)
 *
 * Ownership: make_handle takes the task (also when it fails: the task is then
 * freed once it completes). `del` destroys the task and the shared memory it
 * owns; `result` builds the Python value of a task that succeeded (a new
 * reference, or nullptr with a Python error set, e.g. chimaera.TaskError);
 * both are called with the GIL held, at most once each. The extension and
 * `_core` must share one libchimaera_client.so (one IpcManager): import
 * `chimaera` first, and link the same installed Chimaera.
 * Thread-safety: call with the GIL held.
 */
#include <Python.h>

#include "chimaera/core/runtime_shared.h"
#include "chimaera/core/task.h"

namespace chi::pyapi {

/** Bumped when TaskApi changes. */
inline constexpr unsigned kTaskApiVersion = 1;
/** Destroys a task of its concrete type and the buffers it owns. */
using TaskDeleter = void (*)(ipc::FullPtr<Task>);
/** The Python result of a task that succeeded: new reference, or nullptr
 * with an exception set. */
using TaskResult = PyObject *(*)(Task *);

struct TaskApi {
  unsigned version;      /**< kTaskApiVersion of the _core that made it */
  unsigned chimaera_abi; /**< kChimaeraAbiVersion _core was built with */
  /** A new chimaera._core.TaskHandle owning `task` (new reference), or
   * nullptr with an exception set. */
  PyObject *(*make_handle)(ipc::FullPtr<Task> task, TaskDeleter del, TaskResult result);
  /** 0 when attached to a runtime; -1 with RuntimeUnavailableError set. */
  int (*require_connected)();
};

/** Name of the capsule `chimaera._core` exports. */
inline constexpr const char *kTaskApiCapsule = "chimaera._core._task_api";

/** Import the API (GIL held). nullptr with ImportError set when chimaera is
 * missing or was built for another version than this header. */
inline const TaskApi *ImportTaskApi() {
  auto *api = static_cast<const TaskApi *>(PyCapsule_Import(kTaskApiCapsule, 0));
  if (api == nullptr) return nullptr;
  if (api->version != kTaskApiVersion || api->chimaera_abi != kChimaeraAbiVersion) {
    PyErr_Format(PyExc_ImportError,
                 "this module was built for chimaera task API %u / ABI %u, but the imported chimaera._core "
                 "has %u / %u: rebuild the module against the installed Chimaera",
                 kTaskApiVersion, kChimaeraAbiVersion, api->version, api->chimaera_abi);
    return nullptr;
  }
  return api;
}

}  // namespace chi::pyapi
