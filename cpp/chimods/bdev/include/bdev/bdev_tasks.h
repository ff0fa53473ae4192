#pragma once
/**
 * @file bdev_tasks.h
 * Tasks of the bdev module: a block device backed by a file (durable) or RAM.
 * Pool args (CreatePool's args_): "file=PATH,size=64m[,block=4096]" or
 * "ram,size=64m[,block=4096]". Offsets and sizes are in bytes; Allocate and
 * Free work on whole blocks. Every access is bounds-checked: an out-of-range
 * or unallocated range completes with kTaskBadArgument, never a crash.
 */
#include "admin/admin_tasks.h"
#include "bdev_methods.h"
#include "chimaera/core/task_archives.h"

namespace chimaera::bdev {
using CreateTask = chimaera::admin::CreatePoolTask;
using DestroyTask = chimaera::admin::DestroyPoolTask;

/** Allocate `size_` bytes (rounded up to blocks); OUT the byte offset. */
struct AllocateTask : public chi::Task {
  IN chi::u64 size_ = 0;
  OUT chi::u64 offset_ = 0;
  explicit AllocateTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a) : chi::Task(a) {}
  AllocateTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a, const chi::TaskNode &node, const chi::PoolId &pool,
               const chi::DomainQuery &dom, chi::u64 size)
      : chi::Task(a), size_(size) {
    task_node_ = node, pool_ = pool, method_ = Method::kAllocate, dom_query_ = dom;
  }
  template <typename Ar> void SerializeIn(Ar &ar) { ar(size_); }
  template <typename Ar> void SerializeOut(Ar &ar) { ar(offset_); }
};

/** Free the blocks of [offset_, offset_ + size_) (must be allocated). */
struct FreeTask : public chi::Task {
  IN chi::u64 offset_ = 0;
  IN chi::u64 size_ = 0;
  explicit FreeTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a) : chi::Task(a) {}
  FreeTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a, const chi::TaskNode &node, const chi::PoolId &pool,
           const chi::DomainQuery &dom, chi::u64 offset, chi::u64 size)
      : chi::Task(a), offset_(offset), size_(size) {
    task_node_ = node, pool_ = pool, method_ = Method::kFree, dom_query_ = dom;
  }
  template <typename Ar> void SerializeIn(Ar &ar) { ar(offset_, size_); }
  template <typename Ar> void SerializeOut(Ar &) {}
};

/** Write `size_` bytes from `data_` (CHI_WRITE bulk) at `offset_`; durable
 * in the backing file when the task completes. */
struct WriteTask : public chi::Task {
  IN chi::u64 offset_ = 0;
  IN chi::ipc::Pointer data_;
  IN chi::u64 size_ = 0;
  OUT chi::u64 written_ = 0;
  explicit WriteTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a) : chi::Task(a) {}
  WriteTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a, const chi::TaskNode &node, const chi::PoolId &pool,
            const chi::DomainQuery &dom, chi::u64 offset, chi::ipc::Pointer data, chi::u64 size)
      : chi::Task(a), offset_(offset), data_(data), size_(size) {
    task_node_ = node, pool_ = pool, method_ = Method::kWrite, dom_query_ = dom;
  }
  template <typename Ar> void SerializeIn(Ar &ar) { ar(offset_); ar.bulk(data_, size_, chi::CHI_WRITE); }
  template <typename Ar> void SerializeOut(Ar &ar) { ar(written_); }
};

/** Read `size_` bytes at `offset_` into `data_` (CHI_EXPOSE bulk). */
struct ReadTask : public chi::Task {
  IN chi::u64 offset_ = 0;
  INOUT chi::ipc::Pointer data_;
  INOUT chi::u64 size_ = 0;
  OUT chi::u64 read_ = 0;
  explicit ReadTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a) : chi::Task(a) {}
  ReadTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a, const chi::TaskNode &node, const chi::PoolId &pool,
           const chi::DomainQuery &dom, chi::u64 offset, chi::ipc::Pointer data, chi::u64 size)
      : chi::Task(a), offset_(offset), data_(data), size_(size) {
    task_node_ = node, pool_ = pool, method_ = Method::kRead, dom_query_ = dom;
  }
  template <typename Ar> void SerializeIn(Ar &ar) { ar(offset_); ar.bulk(data_, size_, chi::CHI_EXPOSE); }
  template <typename Ar> void SerializeOut(Ar &ar) { ar(read_); ar.bulk(data_, size_, chi::CHI_EXPOSE); }
};

}  // namespace chimaera::bdev
