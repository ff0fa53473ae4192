#pragma once
/**
 * @file segment.h
 * A named POSIX shared-memory segment (shm_open + mmap) with a header that
 * records its owner and layout version (issue "Foundation"; DESIGN.md §8).
 *
 * Layout: [SegmentHeader | AllocatorHeader | heap ...]. The segment owns one
 * `Allocator` (allocator.h) over the rest of its bytes and registers it in this
 * process's MemoryRegistry while mapped, so `FullPtr<T>(Pointer)` resolves.
 *
 * Names are `/chimaera_<user>_<instance>` (MakeName); files are mode 0600.
 * Ownership rules:
 *  - Create() fails with ShmError when the name exists and its owner process
 *    is alive; when the owner is dead (or the header is unreadable) the stale
 *    segment is unlinked and created anew ("reclaimed").
 *  - Attach() validates magic, layout version and size.
 *  - The destructor unmaps (Detach); only Unlink() removes the name.
 *
 * Thread-safety: a Segment object is not itself thread-safe to create/attach/
 * detach concurrently; the mapped memory is shared by design.
 */
#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "chimaera/ipc/allocator.h"
#include "chimaera/ipc/pointer.h"

namespace chi::ipc {

/** Stored at offset 0 of every segment. 4 KiB reserved (kSegmentHeaderBytes). */
struct SegmentHeader {
  u64 magic_;                 /**< kSegmentMagic once the creator finished formatting */
  u32 layout_version_;        /**< kShmLayoutVersion of the creator */
  u32 owner_pid_;             /**< pid of the creating (owning) process */
  u64 owner_start_ticks_;     /**< owner's start time (clock ticks since boot) to defeat pid reuse */
  u64 size_;                  /**< total bytes of the mapping */
  AllocatorId alloc_id_;      /**< id of the segment's allocator */
  u32 reserved_;
  /** Offset of the owner's root object (e.g. the runtime's shared state); 0 until
   * published. Release-stored by the owner, acquire-loaded by attachers. */
  std::atomic<u64> root_offset_;
};

inline constexpr u64 kSegmentMagic = 0x41524541'4D494843ull;  // "CHIMAERA" little-endian
inline constexpr std::size_t kSegmentHeaderBytes = 4096;
/** Smallest accepted segment: header + allocator header + a little heap. */
inline constexpr std::size_t kMinSegmentBytes = 64 * 1024;

/** Options for Segment::Create. */
struct SegmentOptions {
  std::string name;                 /**< shm name, e.g. MakeName("9413") */
  std::size_t size = 256ull << 20;  /**< total bytes (rounded up to a page) */
  AllocatorId alloc_id{1};          /**< registered in this process; must be unique per process */
};

/** Owner state of an existing segment name (used by Create and tools). */
enum class OwnerState { kAbsent, kAlive, kDead };

class Segment {
 public:
  /** "/chimaera_<user>_<instance>": the user from getuid()'s passwd name (or the
   * numeric uid), `instance` typically the runtime's port. Characters outside
   * [A-Za-z0-9_.-] are replaced by '_'. */
  static std::string MakeName(std::string_view instance);

  /** Create a segment, reclaiming a dead owner's leftover. Throws ShmError if
   * a live process owns `name`, on a bad size, or when shm_open/ftruncate/mmap
   * fail (e.g. /dev/shm full). The caller becomes the owner. */
  static std::unique_ptr<Segment> Create(const SegmentOptions &opts);

  /** Attach to an existing segment. Throws ShmError naming the segment when it
   * does not exist, is not a Chimaera segment, has another layout version, or
   * its allocator id is already used in this process. */
  static std::unique_ptr<Segment> Attach(const std::string &name);

  /** Whether `name` exists and whether the process that created it lives. */
  static OwnerState QueryOwner(const std::string &name);

  /** Remove `name` from the namespace (existing mappings stay valid). Returns
   * false when it did not exist. */
  static bool Unlink(const std::string &name) noexcept;

  ~Segment();
  Segment(const Segment &) = delete;
  Segment &operator=(const Segment &) = delete;

  const std::string &Name() const noexcept { return name_; }
  char *Base() const noexcept { return base_; }
  std::size_t Size() const noexcept { return size_; }
  bool IsOwner() const noexcept { return owner_; }
  SegmentHeader &Header() const noexcept { return *reinterpret_cast<SegmentHeader *>(base_); }
  Allocator &GetAllocator() noexcept { return alloc_; }

  /** Publish the owner's root object so attachers can find it (release). */
  void SetRoot(Pointer p) noexcept { Header().root_offset_.store(p.offset_, std::memory_order_release); }
  /** The published root object, or a null Pointer when not yet published. */
  Pointer GetRoot() const noexcept {
    u64 off = Header().root_offset_.load(std::memory_order_acquire);
    return off == 0 ? Pointer() : Pointer(alloc_.Id(), off);
  }

  /** Unmap (and unregister the allocator) now; idempotent. */
  void Detach() noexcept;

 private:
  Segment(std::string name, char *base, std::size_t size, bool owner, Allocator alloc);
  std::string name_;
  char *base_ = nullptr;
  std::size_t size_ = 0;
  bool owner_ = false;
  Allocator alloc_;
};

/** Start time of process `pid` in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), or 0 when the process does not exist, is a zombie, or
 * its /proc entry cannot be read. Prefer ProcessGone for liveness decisions. */
u64 ProcessStartTicks(int pid) noexcept;

/** What is known of process `pid` (whose start ticks were `start_ticks`, or
 * 0 when unknown). */
enum class ProcessState { kAlive, kGone, kUnknown };
/** kGone only on positive evidence: kill(pid, 0) fails with ESRCH, the
 * process is a zombie, or its start time differs (the pid was reused).
 * kUnknown when /proc cannot be read (fd limit, another pid namespace):
 * callers must then treat the process as alive. */
ProcessState QueryProcess(int pid, u64 start_ticks) noexcept;

}  // namespace chi::ipc
