#pragma once
/**
 * @file bdev_client.h
 * Client of the bdev module. Data buffers live in the runtime's shared
 * memory (CHI_IPC_MANAGER->GetAllocator()). Blocking calls throw
 * chi::TaskError (kTaskBadArgument: out of range, unallocated, no space,
 * I/O error with errno text). Thread-safe after Create.
 */
#include "admin/admin_client.h"
#include "bdev/bdev_tasks.h"

namespace chimaera::bdev {

class Client : public chi::ContainerClient {
 public:
  /** `args`: "file=PATH,size=64m[,block=4096]" or "ram,size=64m[,block=4096]". */
  void Create(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom, const std::string &pool_name,
              const std::string &args) {
    pool_id_ = chimaera::admin::Client().CreatePool(mctx, dom, pool_name, "bdev", args);
  }
  void Destroy(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom) {
    chimaera::admin::Client().DestroyPool(mctx, dom, pool_id_);
  }
  /** The DomainQuery every later task of this client carries (default: this
   * node's container; e.g. DomainQuery::GetGlobalNode(2) for node 2's). */
  void SetDomain(const chi::DomainQuery &dom) noexcept { dom_ = dom; }
  /** Returns the byte offset of `size` newly allocated bytes (whole blocks). */
  chi::u64 Allocate(const chi::ipc::MemContext &mctx, chi::u64 size) {
    auto t = Run(New<AllocateTask>(mctx, size));
    chi::u64 off = t->offset_;
    CHI_IPC_MANAGER->DelTask(t);
    return off;
  }
  void Free(const chi::ipc::MemContext &mctx, chi::u64 offset, chi::u64 size) {
    CHI_IPC_MANAGER->DelTask(Run(New<FreeTask>(mctx, offset, size)));
  }
  chi::ipc::FullPtr<WriteTask> AsyncWrite(const chi::ipc::MemContext &mctx, chi::u64 offset, chi::ipc::Pointer data,
                                          chi::u64 size) {
    return Submit(New<WriteTask>(mctx, offset, data, size));
  }
  void Write(const chi::ipc::MemContext &mctx, chi::u64 offset, chi::ipc::Pointer data, chi::u64 size) {
    CHI_IPC_MANAGER->DelTask(WaitChecked(AsyncWrite(mctx, offset, data, size)));
  }
  chi::ipc::FullPtr<ReadTask> AsyncRead(const chi::ipc::MemContext &mctx, chi::u64 offset, chi::ipc::Pointer data,
                                        chi::u64 size) {
    return Submit(New<ReadTask>(mctx, offset, data, size));
  }
  void Read(const chi::ipc::MemContext &mctx, chi::u64 offset, chi::ipc::Pointer data, chi::u64 size) {
    CHI_IPC_MANAGER->DelTask(WaitChecked(AsyncRead(mctx, offset, data, size)));
  }

 private:
  template <typename TaskT, typename... Args>
  chi::ipc::FullPtr<TaskT> New(const chi::ipc::MemContext &mctx, Args &&...args) {
    auto *ipc = CHI_IPC_MANAGER;
    return ipc->NewTask<TaskT>(mctx, ipc->NewTaskNode(), pool_id_, dom_, std::forward<Args>(args)...);
  }
  template <typename TaskT>
  chi::ipc::FullPtr<TaskT> Submit(chi::ipc::FullPtr<TaskT> t) {
    CHI_IPC_MANAGER->Enqueue(t);
    return t;
  }
  template <typename TaskT>
  chi::ipc::FullPtr<TaskT> Run(chi::ipc::FullPtr<TaskT> t) {
    return WaitChecked(Submit(t));
  }
  chi::DomainQuery dom_ = chi::DomainQuery::GetLocalHash(0);
};

}  // namespace chimaera::bdev
