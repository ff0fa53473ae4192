#pragma once
/**
 * @file lane_sweeper.h
 * `chi::LaneSweeper`: one runtime thread that finds work a dead client left
 * where no doorbell will ever announce it (DESIGN.md §8), so that idle workers
 * can park with no timeout.
 *
 * Every kSweepPeriodUs it calls Worker::SweepIfParked on each worker: a parked
 * worker is rung when its active queue is not empty (a client died between
 * claiming a slot and ringing), and a lane that stayed flagged, non-empty and
 * unmoved over two sweeps (a client died between flagging and scheduling it)
 * is pushed onto its worker's active queue. Only parked workers are swept (a
 * parked worker holds no lane and has drained its active queue, so what the
 * sweep finds is stranded); a worker that is awake is swept once it parks.
 *
 * It also reclaims the local queues (shared memory) and lane mappings of
 * retired containers (destroyed pools, failed creates; PoolManager) at a
 * moment when every worker sleeps (Worker::SleepSeq odd and unchanged across
 * the checks, so no task runs), every active queue is empty, the container
 * has no suspended task (Container::tasks_suspended_) and its lanes are
 * empty and released: then no worker holds a lane,
 * no route from before the retirement is in flight, and no later route can
 * find the container. A runtime busy without pause defers reclamation.
 * Without it a runtime ran out of shared memory after ~2000 pool
 * create/destroy cycles.
 *
 * Why a thread of its own: a parked worker with a timed sleep pays, on every
 * wake-up, the cancel of its timer (a clock-event reprogram, a VM exit on this
 * machine): ~6 µs of the "first task after 1 s idle" benchmark. The sweeper's
 * own timer is never on a task's path. Cost: ~10 short wake-ups per second.
 *
 * Thread-safety: Start/Stop from the runtime's main thread (WorkOrchestrator).
 */
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "chimaera/ipc/types.h"

namespace chi {

namespace ipc {
class Allocator;
}
class Container;
class PoolManager;
class WorkOrchestrator;

class LaneSweeper {
 public:
  static constexpr i64 kSweepPeriodUs = 100000; /**< between sweeps; recovery takes two */

  ~LaneSweeper() { Stop(); }
  /** Start sweeping the workers of `orchestrator` and reclaiming the retired
   * containers of `pools` into `alloc` (all must outlive Stop). */
  void Start(WorkOrchestrator *orchestrator, PoolManager *pools, ipc::Allocator *alloc);
  /** Stop and join the thread; returns within about a millisecond. Idempotent. */
  void Stop();

 private:
  void Loop();
  void ReclaimRetired();

  WorkOrchestrator *orchestrator_ = nullptr;
  PoolManager *pools_ = nullptr;
  ipc::Allocator *alloc_ = nullptr;
  std::vector<Container *> retired_;  // sweeper thread only
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace chi
