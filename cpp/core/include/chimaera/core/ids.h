#pragma once
/**
 * @file ids.h
 * Identifiers of the task model (DESIGN.md §2 "core types"; seeds 002/004):
 * `PoolId`, `ContainerId`, `QueueId`, `LaneId`, `MethodId`, `TaskNode`.
 * All are trivially copyable and safe to place in shared memory.
 */
#include <compare>
#include <functional>
#include <string>

#include "chimaera/ipc/types.h"

namespace chi {

/** Unique id of a pool on this runtime. 0 is null; 1 is the admin pool. */
struct PoolId {
  u64 id_ = 0;
  constexpr PoolId() = default;
  constexpr explicit PoolId(u64 id) : id_(id) {}
  constexpr bool IsNull() const noexcept { return id_ == 0; }
  constexpr auto operator<=>(const PoolId &) const = default;
  std::string ToString() const { return std::to_string(id_); }
  template <typename Ar> void serialize(Ar &ar) { ar(id_); }
};
/** The admin pool exists from runtime start (seed 002 "admin"). */
inline constexpr PoolId kAdminPoolId{1};
/** The remote queue pool exists from start on a runtime with a node table
 * (seeds 000/001 "Remote Queue ChiMod Design"). */
inline constexpr PoolId kRemoteQueuePoolId{2};

using ContainerId = u32;
using QueueId = u32;
using LaneId = u32;
using MethodId = u32;
using IntFlag = u32;

/** Position of a task in the task graph: the root task's id and the depth of
 * this task below it (subtasks inherit root_, depth_ + 1). */
struct TaskNode {
  u64 root_ = 0;
  u32 depth_ = 0;
  template <typename Ar> void serialize(Ar &ar) { ar(root_, depth_); }
};

}  // namespace chi

template <>
struct std::hash<chi::PoolId> {
  std::size_t operator()(const chi::PoolId &p) const noexcept { return std::hash<chi::u64>()(p.id_); }
};
