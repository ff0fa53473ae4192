#pragma once
/**
 * @file domain_query.h
 * `DomainQuery`: which container(s) of a pool a task is addressed to
 * (DESIGN.md §3, seeds 000/001 "Worker").
 *
 * - GetDynamic(): let the container decide; the worker calls
 *   Monitor(kGlobalSchedule), which replaces the query with a concrete one.
 * - GetLocalHash(h): the local container; the hash picks a lane
 *   (Monitor(kLocalSchedule) may use GetLaneByHash(h)).
 * - GetLocalId(c): the local container `c`.
 * - GetGlobalNode(n): container on node `n` (remote; resolved by the remote
 *   queue once the distributed runtime exists).
 * Value type, trivially copyable; no thread-safety concerns.
 */
#include "chimaera/core/ids.h"

namespace chi {

class DomainQuery {
 public:
  enum Kind : u32 { kNone = 0, kDynamic = 1, kLocalHash = 2, kLocalId = 3, kGlobalNode = 4 };

  constexpr DomainQuery() = default;
  static constexpr DomainQuery GetDynamic() noexcept { return DomainQuery(kDynamic, 0); }
  static constexpr DomainQuery GetLocalHash(u32 hash) noexcept { return DomainQuery(kLocalHash, hash); }
  static constexpr DomainQuery GetLocalId(ContainerId id) noexcept { return DomainQuery(kLocalId, id); }
  static constexpr DomainQuery GetGlobalNode(u32 node_id) noexcept { return DomainQuery(kGlobalNode, node_id); }

  constexpr Kind GetKind() const noexcept { return kind_; }
  constexpr u32 GetSelector() const noexcept { return sel_; }
  constexpr bool IsDynamic() const noexcept { return kind_ == kDynamic; }
  /** True when the query names this node (everything but kGlobalNode of
   * another node; the single-node runtime's node id is 0). */
  constexpr bool IsLocal(u32 this_node = 0) const noexcept {
    return kind_ == kLocalHash || kind_ == kLocalId || (kind_ == kGlobalNode && sel_ == this_node);
  }
  constexpr bool operator==(const DomainQuery &) const = default;
  template <typename Ar> void serialize(Ar &ar) { ar(kind_, sel_); }

 private:
  constexpr DomainQuery(Kind kind, u32 sel) : kind_(kind), sel_(sel) {}
  Kind kind_ = kNone;
  u32 sel_ = 0;
};

}  // namespace chi
