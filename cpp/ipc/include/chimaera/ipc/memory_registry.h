#pragma once
/**
 * @file memory_registry.h
 * Per-process table: allocator id -> (base address, size) of the segment it
 * manages in this process. `FullPtr<T>(Pointer)` and `ToPointer` use it.
 *
 * Thread-safety: Register/Unregister may be called from any thread; lookups
 * are lock-free (an array of atomics, read with acquire). At most
 * `kMaxAllocators` allocators may be registered at once in one process.
 */
#include "chimaera/ipc/pointer.h"

namespace chi::ipc {

inline constexpr u32 kMaxAllocators = 64;

class MemoryRegistry {
 public:
  /** Record that allocator `id` manages [base, base+size) in this process.
   * Returns false when `id` is null, >= kMaxAllocators, or already mapped to
   * another address. */
  static bool Register(AllocatorId id, char *base, std::size_t size) noexcept;
  /** Forget allocator `id` (no-op when absent). */
  static void Unregister(AllocatorId id) noexcept;
  /** Base address of allocator `id`, or nullptr when it is not registered. */
  static char *Base(AllocatorId id) noexcept;
  /** Pointer for an address inside a registered segment, or a null Pointer. */
  static Pointer Find(const void *ptr) noexcept;
  /** The allocator shm containers use when constructed without one (the
   * runtime's main segment, typically). Null until SetDefault is called. */
  static AllocatorId Default() noexcept;
  static void SetDefault(AllocatorId id) noexcept;
};

}  // namespace chi::ipc
