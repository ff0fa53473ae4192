#pragma once
#include "admin/admin_client.h"
#include "worktest/worktest_tasks.h"

namespace chimaera_test::worktest {

class Client : public chi::ContainerClient {
 public:
  void Create(const std::string &pool_name, const std::string &args = "") {
    pool_id_ = chimaera::admin::Client().CreatePool(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), pool_name,
                                                    "worktest", args);
  }
  /** Submit method `method` with input `in`, hashed to lane `hash`. */
  chi::ipc::FullPtr<WorkTask> Async(chi::u32 method, chi::u64 in, chi::u32 hash = 0) {
    auto *ipc = CHI_IPC_MANAGER;
    auto t = ipc->NewTask<WorkTask>(chi::ipc::MemContext(), ipc->NewTaskNode(), pool_id_,
                                    chi::DomainQuery::GetLocalHash(hash), method, in);
    ipc->Enqueue(t);
    return t;
  }
  /** Synchronous call: returns out_, throws chi::TaskError. */
  chi::u64 Call(chi::u32 method, chi::u64 in, chi::u32 hash = 0) {
    auto t = WaitChecked(Async(method, in, hash));
    chi::u64 out = t->out_;
    CHI_IPC_MANAGER->DelTask(t);
    return out;
  }
};

}  // namespace chimaera_test::worktest
