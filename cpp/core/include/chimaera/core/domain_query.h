#pragma once
/**
 * @file domain_query.h
 * `DomainQuery`: which container(s) of a pool a task is addressed to
 * (DESIGN.md §3, §7 "DomainQuery kinds"; seeds 000/001 "Worker"). A pool has
 * containers 0..N-1 on the nodes it was created on; every node knows the
 * container -> node map, so every node resolves a query alike.
 *
 * - GetDynamic(): the container decides: the worker calls
 *   Monitor(kGlobalSchedule), which replaces the query with a concrete one
 *   (left dynamic: this node's container, lanes round-robin).
 * - GetLocalHash(h): this node's container; the hash picks a lane.
 * - GetLocalId(c): this node's container, which must be container `c`
 *   (kTaskBadArgument naming c's node otherwise).
 * - GetGlobalNode(n): the pool's container on node `n` (a physical node).
 * - GetDirectId(c): container `c`, on whatever node holds it.
 * - GetDirectHash(h): container h % N: the same key reaches the same
 *   container from every node.
 * - GetRange(first, count): containers first..first+count-1, one replica of
 *   the task each; the task completes when every replica has.
 * - GetBroadcast(): every container of the pool (a range over all).
 * The default-constructed query is kNone and addresses nothing: a task with
 * it fails with kTaskBadArgument ("no DomainQuery").
 * Value type, 8 bytes (kind and range count share one word), trivially
 * copyable; no thread-safety concerns.
 */
#include "chimaera/core/ids.h"

namespace chi {

class DomainQuery {
 public:
  enum Kind : u32 {
    kNone = 0,
    kDynamic = 1,
    kLocalHash = 2,
    kLocalId = 3,
    kGlobalNode = 4,
    kDirectId = 5,
    kDirectHash = 6,
    kRange = 7,
    kBroadcast = 8,
  };
  /** Largest range count (24 bits). */
  static constexpr u32 kMaxRangeCount = (1u << 24) - 1;

  constexpr DomainQuery() = default;
  static constexpr DomainQuery GetDynamic() noexcept { return DomainQuery(kDynamic, 0); }
  static constexpr DomainQuery GetLocalHash(u32 hash) noexcept { return DomainQuery(kLocalHash, hash); }
  static constexpr DomainQuery GetLocalId(ContainerId id) noexcept { return DomainQuery(kLocalId, id); }
  static constexpr DomainQuery GetGlobalNode(u32 node_id) noexcept { return DomainQuery(kGlobalNode, node_id); }
  static constexpr DomainQuery GetDirectId(ContainerId id) noexcept { return DomainQuery(kDirectId, id); }
  static constexpr DomainQuery GetDirectHash(u32 hash) noexcept { return DomainQuery(kDirectHash, hash); }
  /** `count` is clamped to kMaxRangeCount. */
  static constexpr DomainQuery GetRange(ContainerId first, u32 count) noexcept {
    return DomainQuery(kRange, first, count > kMaxRangeCount ? kMaxRangeCount : count);
  }
  static constexpr DomainQuery GetBroadcast() noexcept { return DomainQuery(kBroadcast, 0); }

  constexpr Kind GetKind() const noexcept { return static_cast<Kind>(kind_count_ & 0xff); }
  /** The hash, container id or node id (first container of a range). */
  constexpr u32 GetSelector() const noexcept { return sel_; }
  /** Containers of a range. */
  constexpr u32 GetCount() const noexcept { return kind_count_ >> 8; }
  constexpr bool IsDynamic() const noexcept { return GetKind() == kDynamic; }
  /** Several containers (one replica each). */
  constexpr bool IsFanOut() const noexcept { return GetKind() == kRange || GetKind() == kBroadcast; }
  constexpr bool operator==(const DomainQuery &) const = default;
  template <typename Ar> void serialize(Ar &ar) { ar(kind_count_, sel_); }

 private:
  constexpr DomainQuery(Kind kind, u32 sel, u32 count = 0) : kind_count_(kind | (count << 8)), sel_(sel) {}
  u32 kind_count_ = kNone;  // kind (low 8 bits), range count (high 24)
  u32 sel_ = 0;
};

/** Name of a query kind, for messages ("direct hash"). */
constexpr const char *DomainQueryKindName(DomainQuery::Kind k) noexcept {
  switch (k) {
    case DomainQuery::kNone: return "none";
    case DomainQuery::kDynamic: return "dynamic";
    case DomainQuery::kLocalHash: return "local hash";
    case DomainQuery::kLocalId: return "local id";
    case DomainQuery::kGlobalNode: return "node";
    case DomainQuery::kDirectId: return "direct id";
    case DomainQuery::kDirectHash: return "direct hash";
    case DomainQuery::kRange: return "range";
    case DomainQuery::kBroadcast: return "broadcast";
  }
  return "unknown";
}

}  // namespace chi
