#include "chimaera/runtime/lane_sweeper.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <utility>

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
  pthread_setname_np(pthread_self(), "chi_sweeper");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, std::chrono::microseconds(kSweepPeriodUs), [this] { return stop_; })) {
    lock.unlock();
    for (u32 i = 0; i < orchestrator_->NumWorkers(); ++i) orchestrator_->GetWorker(i).SweepIfParked();
    ReclaimRetired();
    lock.lock();
  }
}

void LaneSweeper::ReclaimRetired() {
  for (Container *c : pools_->TakeRetired()) retired_.push_back(c);
  if (retired_.empty()) return;
  const u32 n = orchestrator_->NumWorkers();
  std::vector<u64> seq(n);
  for (u32 i = 0; i < n; ++i) {
    seq[i] = orchestrator_->GetWorker(i).SleepSeq();
    if (seq[i] % 2 == 0 || !orchestrator_->GetWorker(i).ActiveQueueEmpty()) return;  // busy: next sweep
  }
  std::vector<std::pair<Container *, std::vector<TaskLane *>>> idle;
  for (Container *c : retired_) {
    std::vector<TaskLane *> lanes = c->AllLanes();
    const bool lanes_idle = c->tasks_suspended_.load(std::memory_order_seq_cst) == 0 &&
                            std::all_of(lanes.begin(), lanes.end(), [](TaskLane *lane) {
                              return lane->IsEmpty() && lane->Header().in_active_.load(std::memory_order_seq_cst) == 0;
                            });
    if (lanes_idle) idle.emplace_back(c, std::move(lanes));
  }
  // Nobody woke while we looked: the checks above hold at one moment.
  for (u32 i = 0; i < n; ++i)
    if (orchestrator_->GetWorker(i).SleepSeq() != seq[i]) return;
  for (auto &[c, lanes] : idle) {
    orchestrator_->UnmapLanes(lanes);
    c->FreeQueues(*alloc_);
    Log().debug("reclaimed {} lane(s) of retired pool {} ('{}')", lanes.size(), c->pool_id_.ToString(), c->pool_name_);
    std::erase(retired_, c);
  }
}

}  // namespace chi
