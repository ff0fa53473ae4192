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
 * - A producer claims position `pos` by a CAS on the slot's `seq_` from its
 *   free value (`pos + 1 - capacity`: the previous lap's publication) to
 *   `kClaimBit | pid`, after checking there is room (`pos - head < capacity`).
 *   It then moves `tail_` past `pos` (any producer that finds `pos` claimed
 *   or published helps with that CAS), writes the data and publishes it with
 *   `slot.seq_ = pos + 1` (release).
 * - The consumer, at `head`, reads `slot.seq_` (acquire); `head + 1` means the
 *   item is published. It copies the data out, then advances `head_` (release),
 *   which hands the slot back to producers for position `head + capacity`.
 *   Slots are never reset by the consumer: `head + 1` is also the next lap's
 *   free value.
 * - Producers keep a shared copy of the consumer's head (`cached_head_`) on the
 *   producer line, so in the common (not nearly full) case a Push touches only
 *   the producer line and the slot: the consumer's line is read only when the
 *   cached value says "full". The consumer never reads `tail_`.
 *
 * A producer that dies (process killed) between its claim and its publish
 * leaves the slot claimed with its pid. Other producers help `tail_` past it,
 * so they are not blocked; the consumer, finding the head claimed but
 * unpublished, calls RecoverDeadProducer, which skips the slot once that pid
 * is dead (never while it lives). DESIGN.md §8: a dead client must not stop
 * the runtime.
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

#include "chimaera/ipc/process_id.h"
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
      // A slot is free for position p when its seq_ holds the publication
      // value of the previous lap, p - capacity + 1. Positions start at
      // capacity (see head_/tail_), so fresh slot i is free for position
      // capacity + i with seq_ = i + 1: small, never mistaken for a claim.
      Slot *slot = new (base + std::size_t{i} * sizeof(Slot)) Slot();
      slot->seq_.store(u64{i} + 1, std::memory_order_relaxed);
    }
    tail_.store(capacity_, std::memory_order_relaxed);
    cached_head_.store(capacity_, std::memory_order_relaxed);
    head_.store(capacity_, std::memory_order_relaxed);
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
    // The claim word names this process, so the consumer can recover the
    // slot if we die between claiming and publishing (RecoverDeadProducer).
    const u64 claim = kClaimBit | ThisProcessId();
    // acquire: pairs with the release store of cached_head_ by the producer
    // that refreshed it (which had acquired head_ from the consumer), so the
    // consumer's reads of every slot below that head happen-before our write.
    u64 head = cached_head_.load(std::memory_order_acquire);
    // relaxed: the value only picks a candidate position; the slot CAS below
    // validates it. Loaded after the acquire above, so pos >= head.
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
      Slot &slot = SlotAt(pos);
      // acquire: if the slot is free for pos, the consumer's copy-out of the
      // previous lap happened before (head_ > pos - capacity, checked above).
      u64 seq = slot.seq_.load(std::memory_order_acquire);
      if (seq == pos - capacity_ + 1 &&
          // acq_rel: the claim is the linearization point of the push; only
          // one producer can move the slot from free(pos) to claimed.
          slot.seq_.compare_exchange_strong(seq, claim, std::memory_order_acq_rel, std::memory_order_acquire)) {
        // Move tail_ past our slot unless a helper already did (relaxed:
        // tail_ only steers producers to candidate slots; slot seq_ decides).
        u64 expected = pos;
        tail_.compare_exchange_strong(expected, pos + 1, std::memory_order_relaxed, std::memory_order_relaxed);
        std::memcpy(slot.data_, &v, sizeof(T));
        // release: publishes the data written above to the consumer's
        // acquire load of seq_ in Pop/Peek.
        slot.seq_.store(pos + 1, std::memory_order_release);
        return QueueStatus::kOk;
      }
      if (seq == pos + 1 || (seq & kClaimBit) != 0) {
        // Position pos is claimed or published by another producer (which
        // may have died before moving tail_): help tail_ past it.
        u64 expected = pos;
        if (tail_.compare_exchange_strong(expected, pos + 1, std::memory_order_relaxed,
                                          std::memory_order_relaxed)) {
          pos = pos + 1;
        } else {
          pos = expected;
        }
        continue;
      }
      // A stale view of another lap: start again from the current tail.
      pos = tail_.load(std::memory_order_relaxed);
    }
  }

  /** Consumer only: if the head slot was claimed by a producer that died
   * before publishing it (killed inside Push), skip that slot so the queue
   * moves on; `is_dead(pid)` decides (e.g. ipc::IsProcessDead). The dead
   * producer's item is lost, but its Push never returned, so no caller was
   * told it was queued. Returns true when a slot was skipped.
   * Thread-safety: the consumer only (same rules as Pop). */
  template <typename IsDead>
  bool RecoverDeadProducer(IsDead &&is_dead) noexcept {
    // relaxed: consumer-owned.
    const u64 head = head_.load(std::memory_order_relaxed);
    Slot &slot = SlotAt(head);
    // acquire: pairs with the claim CAS.
    u64 seq = slot.seq_.load(std::memory_order_acquire);
    if ((seq & kClaimBit) == 0 || !is_dead(static_cast<u32>(seq & ~kClaimBit))) return false;
    // acq_rel: mark position head consumed-without-data (its publication
    // value, which is also the free value of the next lap). Fails only if
    // the claimant was alive after all and published meanwhile.
    if (!slot.seq_.compare_exchange_strong(seq, head + 1, std::memory_order_acq_rel, std::memory_order_relaxed))
      return false;
    // The dead producer may have died before moving tail_ past its slot:
    // help it (relaxed, as every tail_ CAS), so tail_ >= head_ always holds.
    u64 expected = head;
    tail_.compare_exchange_strong(expected, head + 1, std::memory_order_relaxed, std::memory_order_relaxed);
    // release: as in Pop, our last access to the slot happens-before reuse.
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  /** TESTING ONLY: claim the next position as process `pid` without
   * publishing it, as a producer killed inside Push would leave it. Returns
   * false when the queue is full. */
  bool ClaimWithoutPublishForTesting(u32 pid, bool advance_tail = true) noexcept {
    const u64 head = head_.load(std::memory_order_acquire);
    u64 pos = tail_.load(std::memory_order_relaxed);
    if (pos - head >= capacity_) return false;
    u64 seq = pos - capacity_ + 1;
    if (!SlotAt(pos).seq_.compare_exchange_strong(seq, kClaimBit | pid, std::memory_order_acq_rel)) return false;
    if (advance_tail) tail_.store(pos + 1, std::memory_order_relaxed);
    return true;
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
    if (tail <= head) return 0;  // a stale tail (snapshot order), never negative
    const u64 n = tail - head;
    return n > capacity_ ? capacity_ : n;
  }

  /** Position of the next item Pop returns (items popped so far). Any
   * thread; a snapshot. Lets an observer tell whether the consumer advances. */
  u64 Head() const noexcept { return head_.load(std::memory_order_acquire); }

  /** Size() == 0. Same approximation and thread-safety as Size(). */
  bool IsEmpty() const noexcept { return Size() == 0; }

  /** Number of slots (RoundDepth of the constructor's depth). Immutable;
   * any thread. */
  u32 Capacity() const noexcept { return capacity_; }

 private:
  /** seq_ of a slot claimed by a producer that has not published yet: this
   * bit | the producer's pid. Positions never reach 2^63. */
  static constexpr u64 kClaimBit = u64{1} << 63;

  /** One ring slot: the publication sequence and the raw bytes of a T. */
  struct Slot {
    /** pos + 1 once the item at position pos is published (which is also
     * the free value for position pos + capacity); kClaimBit | pid while a
     * producer fills it. Written by producers (claim CAS, publish) and, for
     * a dead claimant only, by the consumer (RecoverDeadProducer). */
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
