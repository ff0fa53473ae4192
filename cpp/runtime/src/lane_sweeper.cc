#include "chimaera/runtime/lane_sweeper.h"

#include <chrono>

#include "chimaera/runtime/work_orchestrator.h"

namespace chi {

void LaneSweeper::Start(WorkOrchestrator *orchestrator) {
  orchestrator_ = orchestrator;
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
    lock.lock();
  }
}

}  // namespace chi
