#pragma once
/**
 * @file pointer.h
 * Offset-based pointers that stay valid in every process mapping a segment
 * (DESIGN.md §2, issue "Foundation").
 *
 * - `Pointer`: (allocator id, byte offset from the start of that allocator's
 *   segment). It is what goes into shared memory and queues. Offset 0 is the
 *   segment header and is never handed out, so `offset_ == 0` means null.
 * - `FullPtr<T>`: a `Pointer` plus the raw address of the same object in this
 *   process. Convert with `FullPtr<T>(Pointer)` (needs the allocator to be
 *   registered in this process, see memory_registry.h) or `FullPtr<T>(T*)`.
 *
 * Both are trivially copyable and safe to store in shared memory (FullPtr's
 * raw pointer member is only meaningful in the process that made it).
 * Thread-safety: value types; the registry lookups they call are lock-free.
 */
#include <compare>
#include <functional>

#include "chimaera/ipc/types.h"

namespace chi::ipc {

/** Identifies one allocator (one segment) across processes. 0 is "none". */
struct AllocatorId {
  u32 id_ = 0;
  constexpr AllocatorId() = default;
  constexpr explicit AllocatorId(u32 id) : id_(id) {}
  constexpr bool IsNull() const noexcept { return id_ == 0; }
  constexpr auto operator<=>(const AllocatorId &) const = default;
  template <typename Ar> void serialize(Ar &ar) { ar(id_); }
};

/** Process-independent pointer: allocator id + byte offset (0 == null). */
struct Pointer {
  AllocatorId alloc_id_;
  u64 offset_ = 0;

  constexpr Pointer() = default;
  constexpr Pointer(AllocatorId alloc_id, u64 offset) : alloc_id_(alloc_id), offset_(offset) {}
  static constexpr Pointer GetNull() noexcept { return Pointer(); }
  constexpr bool IsNull() const noexcept { return offset_ == 0; }
  constexpr explicit operator bool() const noexcept { return !IsNull(); }
  constexpr auto operator<=>(const Pointer &) const = default;
  /** Pointer `bytes` further into the same allocator. */
  constexpr Pointer operator+(u64 bytes) const noexcept { return Pointer(alloc_id_, offset_ + bytes); }
  template <typename Ar> void serialize(Ar &ar) { ar(alloc_id_, offset_); }
};

/** Base address of the segment that allocator `id` manages in this process,
 * or nullptr when it is not mapped here. Defined in memory_registry.cc. */
char *ResolveBase(AllocatorId id) noexcept;
/** The Pointer for a raw address inside a registered segment, or null. */
Pointer ToPointer(const void *ptr) noexcept;

/** Raw pointer + shared-memory pointer to the same T. Null when both are null. */
template <typename T>
struct FullPtr {
  T *ptr_ = nullptr;
  Pointer shm_;

  constexpr FullPtr() = default;
  constexpr FullPtr(T *ptr, Pointer shm) : ptr_(ptr), shm_(shm) {}
  /** From a shm pointer: resolves the base address in this process. A pointer
   * whose allocator is not mapped here yields a null FullPtr. */
  explicit FullPtr(Pointer shm) noexcept : shm_(shm) {
    if (shm.IsNull()) return;
    char *base = ResolveBase(shm.alloc_id_);
    if (base == nullptr) {
      shm_ = Pointer();
      return;
    }
    ptr_ = reinterpret_cast<T *>(base + shm.offset_);
  }
  /** From a raw address inside a registered segment (null otherwise). */
  explicit FullPtr(T *ptr) noexcept : ptr_(ptr), shm_(ToPointer(ptr)) {
    if (shm_.IsNull()) ptr_ = nullptr;
  }
  /** Reinterpret as a FullPtr of another type (same address). Used to view a
   * `FullPtr<Task>` as its concrete task type, as seed 002's lib_exec does. */
  template <typename U>
  explicit FullPtr(const FullPtr<U> &other) noexcept
      : ptr_(reinterpret_cast<T *>(other.ptr_)), shm_(other.shm_) {}
  template <typename U>
  FullPtr<U> Cast() const noexcept { return FullPtr<U>(reinterpret_cast<U *>(ptr_), shm_); }

  bool IsNull() const noexcept { return ptr_ == nullptr; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }
  T *get() const noexcept { return ptr_; }
  T *operator->() const noexcept { return ptr_; }
  T &operator*() const noexcept { return *ptr_; }
  bool operator==(const FullPtr &o) const noexcept { return shm_ == o.shm_; }
};

}  // namespace chi::ipc

template <>
struct std::hash<chi::ipc::Pointer> {
  std::size_t operator()(const chi::ipc::Pointer &p) const noexcept {
    return std::hash<chi::u64>()(p.offset_ * 31 + p.alloc_id_.id_);
  }
};
