#pragma once
/**
 * @file allocator.h
 * Lock-free allocator living inside a shared-memory segment, usable by many
 * processes and threads at once (issue "Foundation").
 *
 * Design
 *  - Power-of-two size classes: class c holds blocks of 2^(c+6) bytes (64 B,
 *    128 B, ... up to the whole heap), each starting with a 16-byte
 *    `BlockHeader`; user data is 16-byte aligned and gets `BlockBytes - 16`.
 *  - Each class has a lock-free LIFO free list (Treiber stack) whose head is a
 *    tagged 64-bit word (24-bit ABA tag | 40-bit offset/16), so no 128-bit CAS.
 *  - Fresh memory comes from a bump pointer (one fetch_add). When the bump
 *    region is exhausted, a free block of a larger class is split (buddy-style
 *    halves pushed to the smaller classes). Blocks are never coalesced, so a
 *    heap fragmented into small blocks cannot serve a huge request later:
 *    that is reported as out of memory like any other.
 *  - No locks anywhere: a process killed at any instruction can at worst leak
 *    the block it was handling; it cannot deadlock the others.
 *  - Out of memory is a returned null `Pointer`, never an exception or abort.
 *  - Free() validates the block header (magic + state CAS), so a double free or
 *    a pointer that is not a block start is rejected with `false`.
 *
 * Thread-safety: Allocate/Free/Convert may be called concurrently from any
 * thread of any process that maps the segment. The handle itself is a small
 * value (base address + header pointer) valid only in the process that made it.
 */
#include <atomic>
#include <cstring>
#include <new>
#include <utility>

#include "chimaera/ipc/memory_registry.h"
#include "chimaera/ipc/pointer.h"

namespace chi::ipc {

inline constexpr u32 kMinBlockShift = 6;    /**< smallest block: 64 bytes incl. header */
inline constexpr u32 kNumSizeClasses = 40;  /**< up to 2^45 bytes: more than any segment */
inline constexpr std::size_t kBlockHeaderBytes = 16;

/** In-shm header of the allocator (follows the SegmentHeader). */
struct AllocatorHeader {
  u64 magic_;
  AllocatorId id_;
  u32 reserved_;
  u64 heap_begin_;  /**< offset of the first byte the bump pointer hands out */
  u64 heap_end_;    /**< offset one past the last usable byte */
  /** Next fresh byte. Relaxed fetch_add: it only partitions address space;
   * the block's contents are published by the queue/task protocol that hands
   * the Pointer to another thread, not by this counter. */
  alignas(kCacheLineBytes) std::atomic<u64> heap_top_;
  /** Per-class free-list heads, each on its own cache line (see TaggedHead). */
  struct alignas(kCacheLineBytes) FreeList {
    std::atomic<u64> head_;
  } free_lists_[kNumSizeClasses];
};

class Allocator {
 public:
  Allocator() = default;
  /** Format a new heap inside [base + header_offset, base + end). */
  static Allocator Format(AllocatorId id, char *base, u64 header_offset, u64 end) noexcept;
  /** Handle to an existing heap whose header is at base + header_offset.
   * Returns a null handle when the header's magic is wrong. */
  static Allocator Open(char *base, u64 header_offset) noexcept;
  /** Handle for a registered allocator id (see MemoryRegistry), or null.
   * Defined in segment.cc: every allocator heads a Segment, whose layout
   * fixes where the AllocatorHeader is. */
  static Allocator FromId(AllocatorId id) noexcept;

  bool IsNull() const noexcept { return hdr_ == nullptr; }
  AllocatorId Id() const noexcept { return hdr_ ? hdr_->id_ : AllocatorId(); }
  char *Base() const noexcept { return base_; }

  /** Allocate at least `bytes` bytes (16-byte aligned). `bytes == 0` returns a
   * valid minimum-size block. Returns a null Pointer when out of memory. */
  Pointer Allocate(std::size_t bytes) noexcept;
  /** Allocate at least `bytes` bytes aligned to `alignment` (a power of two,
   * at most 4096). For alignments above 16 the block is over-allocated and a
   * redirect header placed just before the aligned address, so Free() of the
   * returned Pointer works as usual. Null Pointer on OOM or bad alignment. */
  Pointer AllocateAligned(std::size_t bytes, std::size_t alignment) noexcept;
  /** Return a block. Returns false (and changes nothing) for a null pointer,
   * a pointer of another allocator, a double free or a non-block address. */
  bool Free(Pointer p) noexcept;
  /** Usable bytes of the block at `p` (>= the size requested), 0 if invalid. */
  std::size_t UsableSize(Pointer p) const noexcept;

  /** Raw address of `p` in this process (p must belong to this allocator). */
  template <typename T = void>
  T *Convert(Pointer p) const noexcept {
    return p.IsNull() ? nullptr : reinterpret_cast<T *>(base_ + p.offset_);
  }
  /** Allocate `bytes` and return a FullPtr viewing it as T (null on OOM). */
  template <typename T>
  FullPtr<T> AllocateFull(std::size_t bytes) noexcept {
    Pointer p = alignof(T) > 16 ? AllocateAligned(bytes, alignof(T)) : Allocate(bytes);
    return FullPtr<T>(Convert<T>(p), p);
  }
  /** Construct a T in shared memory. Null FullPtr when out of memory; an
   * exception from T's constructor frees the block and propagates. */
  template <typename T, typename... Args>
  FullPtr<T> NewObj(Args &&...args) {
    FullPtr<T> p = AllocateFull<T>(sizeof(T));
    if (p.IsNull()) return p;
    try {
      new (p.ptr_) T(std::forward<Args>(args)...);
    } catch (...) {
      Free(p.shm_);
      throw;
    }
    return p;
  }
  /** Destroy and free an object made by NewObj. Returns Free's result. */
  template <typename T>
  bool DelObj(FullPtr<T> p) noexcept {
    if (p.IsNull()) return false;
    p.ptr_->~T();
    return Free(p.shm_);
  }

  /** Bytes never yet handed out by the bump pointer (diagnostics, tests). */
  u64 UnusedBumpBytes() const noexcept;
  /** Bytes a heap formatted in `total_bytes` of segment spends on headers. */
  static constexpr u64 HeaderBytes() noexcept { return sizeof(AllocatorHeader); }

 private:
  Allocator(char *base, AllocatorHeader *hdr) : base_(base), hdr_(hdr) {}
  Pointer PopFree(u32 cls) noexcept;
  void PushFree(u32 cls, u64 block_off) noexcept;
  u64 CarveFresh(u32 cls) noexcept;
  u64 SplitLarger(u32 cls) noexcept;
  u64 Publish(u64 block_off, u32 cls) noexcept;

  char *base_ = nullptr;
  AllocatorHeader *hdr_ = nullptr;
};

/** Size class for a request of `bytes` user bytes, or kNumSizeClasses when
 * no class is big enough. Exposed for tests. */
u32 SizeClassFor(std::size_t bytes) noexcept;

}  // namespace chi::ipc
