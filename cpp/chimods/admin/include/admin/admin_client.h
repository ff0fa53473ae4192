#pragma once
/**
 * @file admin_client.h
 * Client of the admin pool (always pool 1): create and destroy pools of any
 * module, stop the runtime. Blocking calls throw chi::TaskError (code +
 * message from the runtime); Async* return the task, which the caller waits
 * on and frees with CHI_IPC_MANAGER->DelTask.
 * Thread-safety: stateless apart from pool_id_; callable from any thread.
 */
#include "admin/admin_tasks.h"
#include "chimaera/client/container_client.h"

namespace chimaera::admin {

class Client : public chi::ContainerClient {
 public:
  Client() { pool_id_ = chi::kAdminPoolId; }

  chi::ipc::FullPtr<CreatePoolTask> AsyncCreatePool(const chi::ipc::MemContext &mctx,
                                                    const chi::DomainQuery &dom_query, const std::string &pool_name,
                                                    const std::string &mod_name, const std::string &args = "",
                                                    chi::PoolId requested = chi::PoolId()) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<CreatePoolTask>(mctx, ipc->NewTaskNode(), dom_query, pool_name, mod_name, args,
                                             requested);
    ipc->Enqueue(task);
    return task;
  }
  /** Create a pool; returns its id. Throws chi::TaskError (unknown module,
   * pool exists, the module's Create failed). */
  chi::PoolId CreatePool(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query,
                         const std::string &pool_name, const std::string &mod_name, const std::string &args = "",
                         chi::PoolId requested = chi::PoolId()) {
    auto task = WaitChecked(AsyncCreatePool(mctx, dom_query, pool_name, mod_name, args, requested));
    chi::PoolId id = task->pool_id_;
    CHI_IPC_MANAGER->DelTask(task);
    return id;
  }
  /** Destroy pool `target`. Throws chi::TaskError (unknown pool). */
  void DestroyPool(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query, chi::PoolId target) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<DestroyPoolTask>(mctx, ipc->NewTaskNode(), dom_query, target);
    ipc->Enqueue(task);
    ipc->DelTask(WaitChecked(task));
  }
  /** Ask the runtime to stop; returns once the runtime accepted. */
  void StopRuntime(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<StopRuntimeTask>(mctx, ipc->NewTaskNode(), dom_query);
    ipc->Enqueue(task);
    ipc->DelTask(WaitChecked(task));
  }
};

}  // namespace chimaera::admin
