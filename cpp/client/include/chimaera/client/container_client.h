#pragma once
/**
 * @file container_client.h
 * `chi::ContainerClient`: the client side of a ChiMod (seed 002/004). Thin by
 * design: it remembers its pool's id; module clients derived from it
 * allocate tasks and enqueue them through CHI_IPC_MANAGER, nothing more.
 */
#include "chimaera/client/ipc_manager.h"
#include "chimaera/core/ids.h"

namespace chi {

class ContainerClient {
 public:
  PoolId pool_id_; /**< the pool this client talks to (set by Create or by hand) */

  template <typename Ar> void serialize(Ar &ar) { ar(pool_id_); }

 protected:
  /** Wait for `task`, throw TaskError if it failed, otherwise return it.
   * The caller still owns (and must DelTask) the task. */
  template <typename TaskT>
  static ipc::FullPtr<TaskT> WaitChecked(ipc::FullPtr<TaskT> task) {
    task->Wait();
    if (task->HasError()) {
      TaskError err(task->return_code_, std::string(TaskErrorName(task->return_code_)) + ": " + task->error_.str());
      CHI_IPC_MANAGER->DelTask(task);
      throw err;
    }
    return task;
  }
};

}  // namespace chi
