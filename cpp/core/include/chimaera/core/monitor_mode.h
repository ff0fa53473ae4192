#pragma once
/**
 * @file monitor_mode.h
 * `MonitorModeId`: the phases in which the runtime calls a container's
 * `Monitor(mode, method, task, rctx)` (seeds 002-004, DESIGN.md §3).
 */
#include "chimaera/ipc/types.h"

namespace chi {

enum class MonitorModeId : u32 {
  /** Route the task to a lane of the container's local queue: set
   * `rctx.route_lane_`. The worker calls it for every local task. */
  kLocalSchedule = 0,
  /** Replace a dynamic DomainQuery by a concrete one (task->dom_query_). */
  kGlobalSchedule = 1,
  /** Estimate the task's run time: set `rctx.load_.cpu_us_` (microseconds).
   * Called when another task waits on this one inside the runtime (seed 003). */
  kEstLoad = 2,
};

}  // namespace chi
