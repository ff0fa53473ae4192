#pragma once
/**
 * @file mpsc_queue.h
 * `MpscQueue<T>`: a bounded, lock-free, multi-producer / single-consumer ring
 * buffer that lives directly in shared memory (DESIGN.md §2-4: the process
 * queue and the container lanes that carry `hipc::Pointer`s to tasks).
 *
 * Layout (one contiguous block of `SizeOf(depth)` bytes, no raw pointers, so
 * it works at a different address in every process that maps it):
 *
 *   line 0   capacity_, mask_                 immutable after construction
 *   line 1   tail_, cached_head_              written by producers only
 *   line 2   head_                            written by the consumer only
 *   line 3   padding (128-byte prefetch pairs)
 *   line 4+  Slot[capacity_] = {seq_, data}   the ring, inline after the header
 *
 * Protocol (a variant of Vyukov's bounded queue with per-slot sequence numbers):
 * - Positions are u64 counters that never wrap in practice (2^64 items).
 *   Item `pos` goes to slot `pos & mask_`.
 * - A producer claims position `pos` with a CAS on `tail_` after checking that
 *   the slot is free (`pos - head < capacity`), writes the data, then publishes
 *   it with `slot.seq_ = pos + 1` (release).
 * - The consumer, at `head`, reads `slot.seq_` (acquire); `head + 1` means the
 *   item is published. It copies the data out, then advances `head_` (release),
 *   which hands the slot back to producers for position `head + capacity`.
 *   Slots are never reset: a previous lap's `seq_` is `head + 1 - capacity`.
 * - Producers keep a shared copy of the consumer's head (`cached_head_`) on the
 *   producer line, so in the common (not nearly full) case a Push touches only
 *   the producer line and the slot: the consumer's line is read only when the
 *   cached value says "full". The consumer never reads `tail_`.
 *
 * Known limitation: a producer that dies (process killed) between claiming a
 * position (the CAS on `tail_`) and publishing it (the store to `slot.seq_`)
 * leaves a hole that is never published: the consumer stops at that slot
 * (Pop returns kEmpty forever) and producers eventually see kFull. The window
 * is a memcpy of sizeof(T) bytes plus one store, i.e. a few instructions, and
 * a process cannot be half-way through it unless it is SIGKILLed or crashes
 * there. Recovering would need the runtime to detect the dead producer and
 * publish a tombstone; that belongs to the failure handling of DESIGN.md §8.
 *
 * Placement: construct with placement new in 64-byte-aligned memory of at
 * least `SizeOf(depth)` bytes (e.g. from the shm allocator). The object has a
 * trivial destructor and is not copyable or movable; unmapping the segment is
 * all the cleanup it needs.
 */
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

#include "chimaera/ipc/queue_status.h"
#include "chimaera/ipc/types.h"

namespace chi::ipc {

template <typename T>
class alignas(kCacheLineBytes) MpscQueue {
  static_assert(std::is_trivially_copyable_v<T>,
                "MpscQueue items are memcpy'd through shared memory: T must be trivially copyable");
  static_assert(std::atomic<u64>::is_always_lock_free,
                "cross-process atomics must be lock-free (address-free)");

 public:
  /** Largest number of slots: depths above it are clamped to it. */
  static constexpr u32 kMaxDepth = u32{1} << 31;

  /** The number of slots a queue asked for `depth` actually has: `depth`
   * rounded up to a power of two, with 0 treated as 1 and anything above
   * kMaxDepth clamped to kMaxDepth. Thread-safety: pure function. */
  static constexpr u32 RoundDepth(u32 depth) noexcept {
    if (depth <= 1) return 1;
    if (depth > kMaxDepth) return kMaxDepth;
    return std::bit_ceil(depth);
  }

  /** Bytes of shared memory needed for a queue of `depth` slots (after
   * RoundDepth), a multiple of kCacheLineBytes. depth 0 is treated as 1 (the
   * same as the constructor does). Thread-safety: pure function. */
  static constexpr std::size_t SizeOf(u32 depth) noexcept {
    std::size_t bytes = sizeof(MpscQueue) + std::size_t{RoundDepth(depth)} * sizeof(Slot);
    return (bytes + kCacheLineBytes - 1) / kCacheLineBytes * kCacheLineBytes;
  }

  /** Construct an empty queue in place; the caller provides SizeOf(depth)
   * bytes at `this`, aligned to kCacheLineBytes (asserted in debug builds).
   * Capacity() becomes RoundDepth(depth). Thread-safety: no other thread may
   * touch the memory until construction is complete; publish the queue to
   * other processes with a release store (or before they map the segment). */
  explicit MpscQueue(u32 depth) noexcept : capacity_(RoundDepth(depth)), mask_(capacity_ - 1) {
    assert(reinterpret_cast<std::uintptr_t>(this) % kCacheLineBytes == 0);
    char *base = SlotBase();
    for (u32 i = 0; i < capacity_; ++i) {
      // seq_ 0: position i's publication value is i + 1 (>= 1), so a fresh
      // slot reads as empty for every position.
      new (base + std::size_t{i} * sizeof(Slot)) Slot();
    }
  }

  MpscQueue(const MpscQueue &) = delete;
  MpscQueue &operator=(const MpscQueue &) = delete;

  /** Append `v`. Never blocks, never allocates.
   * Returns kOk, or kFull when all Capacity() slots are taken (published but
   * not popped, or claimed by a producer still writing); nothing is written
   * then, and the caller decides whether to retry, yield or drop.
   * Thread-safety: any number of threads in any processes, concurrently with
   * each other and with the consumer. Lock-free (the CAS retries only when
   * another producer won the same position). */
  QueueStatus Push(const T &v) noexcept {
    // acquire: pairs with the release store of cached_head_ by the producer
    // that refreshed it (which had acquired head_ from the consumer), so the
    // consumer's reads of every slot below that head happen-before our write.
    u64 head = cached_head_.load(std::memory_order_acquire);
    // relaxed: the value only picks a candidate position; the CAS below
    // validates it. Loaded after the acquire above, so pos >= head (the
    // producer that published head - 1 had moved tail_ past it first).
    u64 pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      if (pos - head >= capacity_) {
        // Looks full against the cached head: ask the consumer's line.
        // acquire: pairs with the consumer's release store of head_ in Pop,
        // so its copy-out of the slot we may reuse happens-before our write.
        head = head_.load(std::memory_order_acquire);
        // relaxed: re-read after the acquire so pos >= head again (see above).
        pos = tail_.load(std::memory_order_relaxed);
        if (pos - head >= capacity_) return QueueStatus::kFull;
        // release: hands the happens-before we just acquired from the
        // consumer on to producers that acquire cached_head_. A concurrent
        // producer may store an older head afterwards; that is only
        // conservative (it makes the next Push re-read head_).
        cached_head_.store(head, std::memory_order_release);
      }
      // relaxed (success and failure): the CAS only arbitrates which producer
      // owns position pos; the slot's data is ordered by the acquire loads of
      // head above (before) and the release store of seq_ below (after).
      if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        break;
      }
      // pos now holds the current tail (>= the old one): re-check the room.
    }
    Slot &slot = SlotAt(pos);
    std::memcpy(slot.data_, &v, sizeof(T));
    // release: publishes the data written above to the consumer's acquire
    // load of seq_ in Pop/Peek.
    slot.seq_.store(pos + 1, std::memory_order_release);
    return QueueStatus::kOk;
  }

  /** Remove the oldest published item into `out`.
   * Returns kOk, or kEmpty when the head slot holds no published item (the
   * queue is empty, or the producer that claimed the head position has not
   * published it yet); `out` is untouched then.
   * Thread-safety: ONE consumer at a time (one thread in one process); it may
   * run concurrently with any number of producers. Lock-free, wait-free. */
  QueueStatus Pop(T &out) noexcept {
    // relaxed: only the consumer writes head_, so it reads its own last value.
    const u64 head = head_.load(std::memory_order_relaxed);
    Slot &slot = SlotAt(head);
    // acquire: pairs with the producer's release store of seq_ in Push, so
    // the data it wrote is visible to the memcpy below.
    if (slot.seq_.load(std::memory_order_acquire) != head + 1) return QueueStatus::kEmpty;
    std::memcpy(&out, slot.data_, sizeof(T));
    // release: our read of the slot happens-before the write of the producer
    // that reuses it at position head + capacity (it acquires head_).
    head_.store(head + 1, std::memory_order_release);
    return QueueStatus::kOk;
  }

  /** Copy the oldest published item into `out` without removing it.
   * Returns kOk or kEmpty exactly as Pop would. Thread-safety: the consumer
   * only (same rules as Pop). */
  QueueStatus Peek(T &out) const noexcept {
    // relaxed: consumer-owned, as in Pop.
    const u64 head = head_.load(std::memory_order_relaxed);
    const Slot &slot = SlotAt(head);
    // acquire: pairs with the producer's release store of seq_, as in Pop.
    if (slot.seq_.load(std::memory_order_acquire) != head + 1) return QueueStatus::kEmpty;
    std::memcpy(&out, slot.data_, sizeof(T));
    return QueueStatus::kOk;
  }

  /** Number of items pushed and not yet popped, in [0, Capacity()]. Counts
   * positions claimed by producers that have not published them yet. Exact
   * when no Push/Pop runs concurrently; otherwise a value the queue had at
   * some instant during the call, give or take the concurrent operations.
   * Thread-safety: any thread of any process. */
  u64 Size() const noexcept {
    // acquire: orders the tail_ load after it, so tail >= head (see Push).
    const u64 head = head_.load(std::memory_order_acquire);
    // relaxed: an approximate count needs no ordering beyond the one above.
    const u64 tail = tail_.load(std::memory_order_relaxed);
    const u64 n = tail - head;
    return n > capacity_ ? capacity_ : n;
  }

  /** Size() == 0. Same approximation and thread-safety as Size(). */
  bool IsEmpty() const noexcept { return Size() == 0; }

  /** Number of slots (RoundDepth of the constructor's depth). Immutable;
   * any thread. */
  u32 Capacity() const noexcept { return capacity_; }

 private:
  /** One ring slot: the publication sequence and the raw bytes of a T. */
  struct Slot {
    /** pos + 1 once the item at position pos is published; written by the
     * producer that owns pos, read by the consumer. */
    std::atomic<u64> seq_{0};
    alignas(T) unsigned char data_[sizeof(T)];
  };

  char *SlotBase() noexcept { return reinterpret_cast<char *>(this) + sizeof(MpscQueue); }
  const char *SlotBase() const noexcept {
    return reinterpret_cast<const char *>(this) + sizeof(MpscQueue);
  }
  Slot &SlotAt(u64 pos) noexcept {
    return *std::launder(reinterpret_cast<Slot *>(SlotBase() + (pos & mask_) * sizeof(Slot)));
  }
  const Slot &SlotAt(u64 pos) const noexcept {
    return *std::launder(
        reinterpret_cast<const Slot *>(SlotBase() + (pos & mask_) * sizeof(Slot)));
  }

  // Line 0: immutable after construction; read by everybody, so it never moves.
  const u32 capacity_;
  const u32 mask_;
  // Line 1: producers only. Next position to claim, and producers' shared
  // copy of head_ (never ahead of head_).
  alignas(kCacheLineBytes) std::atomic<u64> tail_{0};
  std::atomic<u64> cached_head_{0};
  // Line 2: consumer only (producers read it when the queue looks full).
  alignas(kCacheLineBytes) std::atomic<u64> head_{0};
  // Line 3: unused. x86 L2 prefetchers fetch 128-byte line pairs; this keeps
  // head_'s pair partner away from the first slots (producers write those).
  alignas(kCacheLineBytes) char pad_[kCacheLineBytes] = {};
  // Slots follow at this + sizeof(MpscQueue), which is a multiple of
  // kCacheLineBytes because of the class alignment.
};

}  // namespace chi::ipc
