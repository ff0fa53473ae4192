#pragma once
/**
 * @file mem_context.h
 * Seed-style allocation context: task constructors take
 * `const hipc::CtxAllocator<CHI_ALLOC_T> &` (seed 002 "mod_name_tasks.h") and
 * client calls take `const hipc::MemContext &`. The context carries hints
 * (thread id, priority) that allocators may use; ours ignores them today.
 */
#include "chimaera/ipc/allocator.h"

namespace chi::ipc {

/** Hints for an allocation: which thread, which priority. Value type. */
struct MemContext {
  u32 tid_ = 0;
  u32 prio_ = 0;
};

/** An allocator handle paired with its context (value type). */
template <typename AllocT>
struct CtxAllocator {
  MemContext ctx_;
  AllocT alloc_;
  CtxAllocator(const MemContext &ctx, const AllocT &alloc) : ctx_(ctx), alloc_(alloc) {}
  explicit CtxAllocator(const AllocT &alloc) : alloc_(alloc) {}
  const AllocT *operator->() const noexcept { return &alloc_; }
  /** The handle, for shm containers: `hipc::string(alloc.Get(), "...")`. */
  const AllocT &Get() const noexcept { return alloc_; }
};

}  // namespace chi::ipc

/** The allocator type tasks are built with (seed name). */
#define CHI_ALLOC_T ::chi::ipc::Allocator
