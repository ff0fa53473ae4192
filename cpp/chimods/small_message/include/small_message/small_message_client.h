#pragma once
/**
 * @file small_message_client.h
 * Client of small_message. Create() makes the pool (through admin); Md() is a
 * synchronous empty task; AsyncMd() returns the task to Wait() on and DelTask.
 * Errors: chi::TaskError from the runtime. Thread-safe after Create.
 */
#include "admin/admin_client.h"
#include "small_message/small_message_tasks.h"

namespace chimaera::small_message {

class Client : public chi::ContainerClient {
 public:
  void Create(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query, const std::string &pool_name) {
    pool_id_ = chimaera::admin::Client().CreatePool(mctx, dom_query, pool_name, "small_message");
  }
  void Destroy(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query) {
    chimaera::admin::Client().DestroyPool(mctx, dom_query, pool_id_);
  }
  chi::ipc::FullPtr<MdTask> AsyncMd(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<MdTask>(mctx, ipc->NewTaskNode(), pool_id_, dom_query);
    ipc->Enqueue(task);
    return task;
  }
  void Md(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query) {
    CHI_IPC_MANAGER->DelTask(WaitChecked(AsyncMd(mctx, dom_query)));
  }
};

}  // namespace chimaera::small_message
