#include "chimaera/runtime/lane_sweeper.h"

#include <chrono>

#include "chimaera/runtime/container.h"
#include "chimaera/runtime/log.h"
#include "chimaera/runtime/pool_manager.h"
#include "chimaera/runtime/work_orchestrator.h"

namespace chi {

void LaneSweeper::Start(WorkOrchestrator *orchestrator, PoolManager *pools, ipc::Allocator *alloc) {
  orchestrator_ = orchestrator;
  pools_ = pools;
  alloc_ = alloc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void LaneSweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LaneSweeper::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, std::chrono::microseconds(kSweepPeriodUs), [this] { return stop_; })) {
    lock.unlock();
    for (u32 i = 0; i < orchestrator_->NumWorkers(); ++i) orchestrator_->GetWorker(i).SweepIfParked();
    ReclaimRetired();
    lock.lock();
  }
}

void LaneSweeper::ReclaimRetired() {
  const u32 n = orchestrator_->NumWorkers();
  for (Container *c : pools_->TakeRetired()) {
    Retired r{c, std::vector<u64>(n), std::vector<bool>(n, false)};
    for (u32 i = 0; i < n; ++i) r.parks[i] = orchestrator_->GetWorker(i).Parks();
    retired_.push_back(std::move(r));
  }
  if (retired_.empty()) return;
  // Step two, for those whose step one finished in an earlier sweep.
  bool all_idle = true;
  for (u32 i = 0; i < n && all_idle; ++i) all_idle = orchestrator_->GetWorker(i).IsIdle();
  if (all_idle) {
    std::erase_if(retired_, [&](const Retired &r) {
      if (!r.quiescent) return false;
      const std::vector<TaskLane *> lanes = r.container->AllLanes();
      for (TaskLane *lane : lanes)
        if (!lane->IsEmpty() || lane->Header().in_active_.load(std::memory_order_acquire) != 0) return false;
      orchestrator_->UnmapLanes(lanes);
      r.container->FreeQueues(*alloc_);
      Log().debug("reclaimed {} lane(s) of retired pool {} ('{}')", lanes.size(), r.container->pool_id_.ToString(),
                  r.container->pool_name_);
      return true;
    });
  }
  // Step one: has every worker been idle since the container was retired?
  for (Retired &r : retired_) {
    bool all = true;
    for (u32 i = 0; i < n; ++i) {
      Worker &w = orchestrator_->GetWorker(i);
      if (!r.seen_idle[i]) r.seen_idle[i] = w.IsParked() || w.Parks() != r.parks[i];
      all = all && r.seen_idle[i];
    }
    r.quiescent = all;
  }
}

}  // namespace chi
