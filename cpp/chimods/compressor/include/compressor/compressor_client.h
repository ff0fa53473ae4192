#pragma once
/**
 * @file compressor_client.h
 * Client of the compressor module. Buffers are in the runtime's shared
 * memory (allocate them with CHI_IPC_MANAGER->GetAllocator()), so the data
 * is never copied between client and runtime.
 * Errors: chi::TaskError (kTaskBadArgument for corrupt input or a too-small
 * output buffer, with the codec's message). Thread-safe after Create.
 */
#include "admin/admin_client.h"
#include "compressor/compressor_tasks.h"

namespace chimaera::compressor {

struct CodecResult {
  chi::u64 out_size;  /**< bytes written to the output buffer */
  chi::u32 checksum;  /**< CRC-32 of the uncompressed bytes */
};

class Client : public chi::ContainerClient {
 public:
  /** Create the pool; `args` may be "lanes=N" (default: the runtime's lanes_per_queue). */
  void Create(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom, const std::string &pool_name,
              const std::string &args = "") {
    pool_id_ = chimaera::admin::Client().CreatePool(mctx, dom, pool_name, "compressor", args);
  }
  void Destroy(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom) {
    chimaera::admin::Client().DestroyPool(mctx, dom, pool_id_);
  }
  chi::ipc::FullPtr<CompressTask> AsyncCompress(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom,
                                                Codec codec, chi::i32 level, chi::ipc::Pointer data, chi::u64 size,
                                                chi::ipc::Pointer out, chi::u64 capacity) {
    return Submit<CompressTask>(mctx, dom, Method::kCompress, codec, level, data, size, out, capacity);
  }
  chi::ipc::FullPtr<DecompressTask> AsyncDecompress(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom,
                                                    Codec codec, chi::ipc::Pointer data, chi::u64 size,
                                                    chi::ipc::Pointer out, chi::u64 capacity) {
    return Submit<DecompressTask>(mctx, dom, Method::kDecompress, codec, 0, data, size, out, capacity);
  }
  CodecResult Compress(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom, Codec codec, chi::i32 level,
                       chi::ipc::Pointer data, chi::u64 size, chi::ipc::Pointer out, chi::u64 capacity) {
    return Finish(AsyncCompress(mctx, dom, codec, level, data, size, out, capacity));
  }
  CodecResult Decompress(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom, Codec codec,
                         chi::ipc::Pointer data, chi::u64 size, chi::ipc::Pointer out, chi::u64 capacity) {
    return Finish(AsyncDecompress(mctx, dom, codec, data, size, out, capacity));
  }

 private:
  template <typename TaskT>
  chi::ipc::FullPtr<TaskT> Submit(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom, chi::u32 method,
                                  Codec codec, chi::i32 level, chi::ipc::Pointer data, chi::u64 size,
                                  chi::ipc::Pointer out, chi::u64 capacity) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<TaskT>(mctx, ipc->NewTaskNode(), pool_id_, dom, method, codec, level, data, size, out,
                                    capacity);
    ipc->Enqueue(task);
    return task;
  }
  template <typename TaskT>
  static CodecResult Finish(chi::ipc::FullPtr<TaskT> task) {
    task = WaitChecked(task);
    CodecResult r{task->out_size_, task->checksum_};
    CHI_IPC_MANAGER->DelTask(task);
    return r;
  }
};

}  // namespace chimaera::compressor
