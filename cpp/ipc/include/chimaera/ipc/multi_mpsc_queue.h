#pragma once
/**
 * @file multi_mpsc_queue.h
 * `MultiMpscQueue<T, LaneHeader>`: num_lanes x num_prios independent
 * `MpscQueue<T>` lanes, each preceded by a user-defined `LaneHeader`, all in
 * one contiguous block of shared memory (DESIGN.md §2 and §4: `TaskQueue`
 * stores the worker a lane is mapped to and its "enqueued in the active
 * queue" flag in the header; seed 003's `hipc::multi_mpsc_queue`).
 *
 * Layout (no raw pointers; valid at any mapping address):
 *
 *   MultiMpscQueue header (one cache line: num_lanes_, num_prios_, depth_, stride)
 *   Lane[prio 0][lane 0], Lane[prio 0][lane 1], ..., Lane[prio P-1][lane L-1]
 *
 * Each `MpscLane` = LaneHeader (padded to a cache line) + MpscQueue<T> header +
 * its slots; lanes are `LaneStride()` bytes apart (a multiple of
 * kCacheLineBytes), so lanes never share a cache line with each other.
 *
 * Placement: construct with placement new in kCacheLineBytes-aligned memory of
 * SizeOf(num_lanes, num_prios, depth) bytes. Trivial destructor; not copyable.
 */
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "chimaera/ipc/mpsc_queue.h"
#include "chimaera/ipc/types.h"

namespace chi::ipc {

/** One lane: a user header followed by an MpscQueue<T> and its slots.
 * Only ever lives inside a MultiMpscQueue (or memory of SizeOf(depth) bytes). */
template <typename T, typename LaneHeader>
class alignas(kCacheLineBytes) MpscLane {
  static_assert(std::is_default_constructible_v<LaneHeader>,
                "LaneHeader is default-constructed in place for every lane");
  static_assert(std::is_trivially_destructible_v<LaneHeader>,
                "LaneHeader lives in shared memory, where destructors never run");
  static_assert(alignof(LaneHeader) <= kCacheLineBytes, "LaneHeader over-aligned");

 public:
  /** Bytes one lane of `depth` slots occupies (multiple of kCacheLineBytes).
   * Exact because queue_ is the last member and its slots follow it. */
  static constexpr std::size_t SizeOf(u32 depth) noexcept {
    return sizeof(MpscLane) - sizeof(MpscQueue<T>) + MpscQueue<T>::SizeOf(depth);
  }

  /** Construct in place (header value-initialized, queue empty). Thread-safety:
   * no concurrent access until construction is published. */
  explicit MpscLane(u32 depth) noexcept : header_(), queue_(depth) {}
  MpscLane(const MpscLane &) = delete;
  MpscLane &operator=(const MpscLane &) = delete;

  /** The per-lane header. Its own members decide their thread-safety (use
   * atomics for anything several processes touch). */
  LaneHeader &Header() noexcept { return header_; }
  const LaneHeader &Header() const noexcept { return header_; }
  /** The lane's queue; see MpscQueue for who may call what. */
  MpscQueue<T> &Queue() noexcept { return queue_; }
  const MpscQueue<T> &Queue() const noexcept { return queue_; }

  /** Queue().Push(v): any thread of any process; kOk or kFull. */
  QueueStatus Push(const T &v) noexcept { return queue_.Push(v); }
  /** Queue().Pop(out): the lane's single consumer only; kOk or kEmpty. */
  QueueStatus Pop(T &out) noexcept { return queue_.Pop(out); }
  /** Queue().Size(): any thread; approximate under concurrency. */
  u64 Size() const noexcept { return queue_.Size(); }
  /** Queue().IsEmpty(): any thread; approximate under concurrency. */
  bool IsEmpty() const noexcept { return queue_.IsEmpty(); }

 private:
  // alignas: the header gets its own cache line(s), so runtime writes to it
  // (e.g. the active-queue flag) do not slow down the queue's lines.
  alignas(kCacheLineBytes) LaneHeader header_;
  MpscQueue<T> queue_;  // must stay last: its slots follow it in memory
};

template <typename T, typename LaneHeader>
class alignas(kCacheLineBytes) MultiMpscQueue {
 public:
  using Lane = MpscLane<T, LaneHeader>;

  /** Bytes between consecutive lanes holding `depth` slots each (multiple of
   * kCacheLineBytes). Pure function. */
  static constexpr std::size_t LaneStride(u32 depth) noexcept { return Lane::SizeOf(depth); }

  /** Bytes of shared memory for num_lanes x num_prios lanes of `depth` slots
   * (depth rounded as MpscQueue<T>::RoundDepth; 0 lanes or 0 priorities are
   * treated as 1, as the constructor does). Pure function. The caller must
   * keep the product within its segment: no overflow check is made beyond
   * what size_t holds (64-bit). */
  static constexpr std::size_t SizeOf(u32 num_lanes, u32 num_prios, u32 depth) noexcept {
    return sizeof(MultiMpscQueue) +
           std::size_t{AtLeastOne(num_lanes)} * AtLeastOne(num_prios) * LaneStride(depth);
  }

  /** Construct every lane in place in kCacheLineBytes-aligned memory of
   * SizeOf(num_lanes, num_prios, depth) bytes. num_lanes / num_prios of 0 are
   * treated as 1; depth is rounded as MpscQueue<T>::RoundDepth.
   * Thread-safety: no concurrent access until construction is published. */
  MultiMpscQueue(u32 num_lanes, u32 num_prios, u32 depth) noexcept
      : num_lanes_(AtLeastOne(num_lanes)),
        num_prios_(AtLeastOne(num_prios)),
        depth_(MpscQueue<T>::RoundDepth(depth)),
        lane_stride_(LaneStride(depth)) {
    assert(reinterpret_cast<std::uintptr_t>(this) % kCacheLineBytes == 0);
    for (u32 prio = 0; prio < num_prios_; ++prio) {
      for (u32 lane = 0; lane < num_lanes_; ++lane) {
        new (LaneAddress(lane, prio)) Lane(depth_);
      }
    }
  }
  MultiMpscQueue(const MultiMpscQueue &) = delete;
  MultiMpscQueue &operator=(const MultiMpscQueue &) = delete;

  /** The lane `lane_id` of priority `prio`. Precondition (asserted in debug
   * builds, undefined behaviour otherwise): lane_id < GetNumLanes() and
   * prio < GetNumPrios(). Thread-safety: any thread; the layout is immutable. */
  Lane &GetLane(u32 lane_id, u32 prio) noexcept {
    assert(lane_id < num_lanes_ && prio < num_prios_);
    return *std::launder(reinterpret_cast<Lane *>(LaneAddress(lane_id, prio)));
  }
  const Lane &GetLane(u32 lane_id, u32 prio) const noexcept {
    return const_cast<MultiMpscQueue *>(this)->GetLane(lane_id, prio);
  }

  /** Lanes per priority (>= 1). Immutable; any thread. */
  u32 GetNumLanes() const noexcept { return num_lanes_; }
  /** Number of priorities (>= 1). Immutable; any thread. */
  u32 GetNumPrios() const noexcept { return num_prios_; }
  /** Slots per lane (the rounded depth). Immutable; any thread. */
  u32 GetDepth() const noexcept { return depth_; }
  /** Bytes between consecutive lanes. Immutable; any thread. */
  std::size_t GetLaneStride() const noexcept { return static_cast<std::size_t>(lane_stride_); }

 private:
  static constexpr u32 AtLeastOne(u32 n) noexcept { return n == 0 ? 1 : n; }

  char *LaneAddress(u32 lane_id, u32 prio) noexcept {
    const std::size_t index = std::size_t{prio} * num_lanes_ + lane_id;
    return reinterpret_cast<char *>(this) + sizeof(MultiMpscQueue) + index * lane_stride_;
  }

  const u32 num_lanes_;
  const u32 num_prios_;
  const u32 depth_;
  const u64 lane_stride_;
  // Lanes follow at this + sizeof(MultiMpscQueue) (one cache line).
};

}  // namespace chi::ipc
