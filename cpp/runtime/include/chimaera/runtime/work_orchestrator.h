#pragma once
/**
 * @file work_orchestrator.h
 * `chi::WorkOrchestrator`: starts the workers and maps lanes to them (seed
 * 003 "Work Orchestrator"). Every lane of a multi-lane queue is scheduled on
 * its own, round-robin over the workers; the mapping is stored in the lane's
 * header (LaneHeader::worker_id_) and never changes afterwards. While the
 * workers run, a LaneSweeper watches them for work a dead client left
 * unannounced.
 *
 * Thread-safety: ScheduleLane may be called from any thread (atomic
 * round-robin counter); Start/Stop from the runtime's main thread.
 */
#include <atomic>
#include <memory>
#include <vector>

#include "chimaera/runtime/lane_sweeper.h"
#include "chimaera/runtime/worker.h"

namespace chi {

class WorkOrchestrator {
 public:
  /** Lanes one worker's active queue can hold: a hard limit on the lanes
   * mapped to it (each lane is in its active queue at most once). */
  static constexpr u32 kMaxLanesPerWorker = 8192;

  void Init(Runtime *rt, WorkerShared *shared, u32 num_workers);
  void Start();
  /** Stop the sweeper, ask every worker to stop and join them. */
  void Stop();

  /** Map `lane` to a worker (round-robin). Throws std::runtime_error when
   * every worker already has kMaxLanesPerWorker lanes. */
  void ScheduleLane(TaskLane &lane);

  /** Undo ScheduleLane for `lanes` (of a retired container, LaneSweeper). */
  void UnmapLanes(const std::vector<TaskLane *> &lanes);

  u32 NumWorkers() const noexcept { return static_cast<u32>(workers_.size()); }
  Worker &GetWorker(u32 id) noexcept { return *workers_[id]; }

 private:
  Runtime *rt_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;
  LaneSweeper sweeper_;
  std::atomic<u32> next_worker_{0};
  std::atomic<u64> lanes_mapped_{0};
};

}  // namespace chi
