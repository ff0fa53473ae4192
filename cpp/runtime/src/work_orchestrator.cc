#include "chimaera/runtime/work_orchestrator.h"

#include <stdexcept>
#include <string>

#include "chimaera/runtime/runtime.h"

namespace chi {

void WorkOrchestrator::Init(Runtime *rt, WorkerShared *shared, u32 num_workers) {
  rt_ = rt;
  workers_.clear();
  for (u32 i = 0; i < num_workers; ++i) workers_.push_back(std::make_unique<Worker>(i, &shared[i], rt));
}

void WorkOrchestrator::Start() {
  for (auto &w : workers_) w->Start();
  sweeper_.Start(this, &rt_->Pools(), &rt_->GetAllocator());
}

void WorkOrchestrator::Stop() {
  sweeper_.Stop();
  for (auto &w : workers_) w->RequestStop();
  for (auto &w : workers_) w->Join();
}

void WorkOrchestrator::ScheduleLane(TaskLane &lane) {
  const u32 n = NumWorkers();
  // Round-robin (seed 003). Each worker's active queue holds at most
  // kMaxLanesPerWorker lanes, so refuse beyond n * that.
  if (lanes_mapped_.fetch_add(1, std::memory_order_relaxed) >= u64{n} * kMaxLanesPerWorker) {
    lanes_mapped_.fetch_sub(1, std::memory_order_relaxed);
    throw std::runtime_error("cannot map another lane: all " + std::to_string(n) + " workers have " +
                             std::to_string(kMaxLanesPerWorker) + " lanes");
  }
  const u32 w = next_worker_.fetch_add(1, std::memory_order_relaxed) % n;
  lane.Header().worker_id_ = w;
  workers_[w]->AddLane(&lane);
}

void WorkOrchestrator::UnmapLanes(const std::vector<TaskLane *> &lanes) {
  for (auto &w : workers_) w->ForgetLanes(lanes);
  lanes_mapped_.fetch_sub(lanes.size(), std::memory_order_relaxed);
}

}  // namespace chi
