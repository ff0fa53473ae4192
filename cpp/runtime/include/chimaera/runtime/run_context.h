#pragma once
/**
 * @file run_context.h
 * `RunContext`: runtime-private state of one task while the runtime handles
 * it (seed 003 "Waiting for Tasks"). Monitor() communicates through it:
 * kLocalSchedule sets `route_lane_`, kEstLoad sets `load_.cpu_us_`.
 * Owned by the worker that runs the task; never shared between threads.
 */
#include "chimaera/core/task.h"
#include "chimaera/core/task_queue.h"

namespace chi {

class Container;
class Worker;
struct TaskFiber;

struct Load {
  u64 cpu_us_ = 0;  /**< estimated run time in microseconds (kEstLoad) */
};

struct RunContext {
  ipc::FullPtr<Task> task_;
  Container *container_ = nullptr;
  Worker *worker_ = nullptr;
  TaskLane *route_lane_ = nullptr;  /**< set by Monitor(kLocalSchedule) */
  Load load_;                       /**< set by Monitor(kEstLoad) */
  bool blocked_ = false;            /**< set while waiting on a subtask (RuntimeWait) */
  Task *waiting_on_ = nullptr;      /**< the subtask being waited on */
  TaskFiber *fiber_ = nullptr;      /**< coroutine the task runs on */
};

}  // namespace chi
