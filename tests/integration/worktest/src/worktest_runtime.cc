#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/module_api.h"
#include "chimaera/runtime/runtime.h"
#include "worktest/worktest_tasks.h"

namespace chimaera_test::worktest {

class Runtime : public chi::Container {
 public:
#include "worktest_lib_exec.h"

  // args_ "fail" makes Create fail: tests the CreatePool error path.
  void Create(chi::ipc::FullPtr<CreateTask> task, chi::RunContext &) {
    if (task->args_ == std::string_view("fail")) {
      task->SetError(chi::kTaskBadArgument, "worktest Create was asked to fail");
      return;
    }
    CreateLocalQueue(0, 2);
    // A second queue: GetLane serves the first queue inline and any other
    // through a lookup; both must find their own lanes.
    CreateLocalQueue(1, 1);
    if (GetLane(0, 1) == nullptr || GetLane(0, 3) != GetLane(0, 1) || GetLane(1, 5) == nullptr ||
        GetLane(1, 0) == GetLane(0, 0) || GetLane(1, 0)->Header().queue_id_ != 1 || GetLane(2, 0) != nullptr)
      task->SetError(chi::kTaskBadArgument, "worktest Create: Container::GetLane picked a wrong lane");
  }
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void Echo(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) { task->out_ = task->in_ * 2; }
  // Spawns in_ subtasks and waits on each: with one worker this only finishes
  // because Wait suspends the parent's coroutine (seed 003).
  void Spawn(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) {
    auto *ipc = CHI_IPC_MANAGER;
    std::vector<chi::ipc::FullPtr<WorkTask>> subs;
    for (chi::u64 i = 0; i < task->in_; ++i) {
      auto sub = ipc->NewTask<WorkTask>(chi::ipc::MemContext(), task->task_node_, pool_id_,
                                        chi::DomainQuery::GetLocalHash(static_cast<chi::u32>(i)), Method::kEcho, i);
      ipc->Enqueue(sub);
      subs.push_back(sub);
    }
    chi::u64 sum = 0;
    for (auto &sub : subs) {
      sub->Wait();
      sum += sub->out_;
      ipc->DelTask(sub);
    }
    task->out_ = sum;
  }
  void Throw(chi::ipc::FullPtr<WorkTask>, chi::RunContext &) { throw std::runtime_error("worktest Throw: boom"); }
  void Sleep(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) { usleep(static_cast<useconds_t>(task->in_)); }
  void Where(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) { task->out_ = CHI_RUNTIME->NodeId(); }
  // A runtime-side wait on a subtask that runs on another node (seed 003
  // "Waiting for Tasks" across the remote queue).
  void Relay(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) {
    auto *ipc = CHI_IPC_MANAGER;
    auto sub = ipc->NewTask<WorkTask>(chi::ipc::MemContext(), task->task_node_, pool_id_,
                                      chi::DomainQuery::GetGlobalNode(static_cast<chi::u32>(task->in_)), Method::kWhere, 0);
    ipc->Enqueue(sub);
    sub->Wait();
    if (sub->HasError()) task->SetError(sub->return_code_, sub->error_.str());
    task->out_ = sub->out_ * 100 + CHI_RUNTIME->NodeId();
    ipc->DelTask(sub);
  }
  void Count(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) {
    task->out_ = counted_.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void GetCount(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) {
    task->out_ = counted_.load(std::memory_order_relaxed);
  }
  void Container(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &) {
    task->out_ = chi::u64{container_id_} * 100 + CHI_RUNTIME->NodeId();
  }
  void Worker(chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) { task->out_ = rctx.worker_->Id(); }

  // Fan-out merges (GetRange / GetBroadcast): kWhere gives the set of nodes
  // that ran a replica (bit per node), kGetCount the sum over containers,
  // kContainer the set of containers (bit per container id).
  void AggregateWhere(chi::ipc::FullPtr<WorkTask> parent, chi::ipc::FullPtr<WorkTask> replica, bool first) {
    parent->out_ = (first ? 0 : parent->out_) | (chi::u64{1} << replica->out_);
  }
  void AggregateGetCount(chi::ipc::FullPtr<WorkTask> parent, chi::ipc::FullPtr<WorkTask> replica, bool first) {
    parent->out_ = (first ? 0 : parent->out_) + replica->out_;
  }
  void AggregateContainer(chi::ipc::FullPtr<WorkTask> parent, chi::ipc::FullPtr<WorkTask> replica, bool first) {
    parent->out_ = (first ? 0 : parent->out_) | (chi::u64{1} << (replica->out_ / 100));
  }

  // Every method shares one monitor policy (the generated Monitor calls
  // MonitorX with the method's task type, from chimaera_mod.yaml).
  void MonitorCreate(chi::MonitorModeId, chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void MonitorDestroy(chi::MonitorModeId, chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void MonitorEcho(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kEcho, task, rctx);
  }
  void MonitorSpawn(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kSpawn, task, rctx);
  }
  void MonitorThrow(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kThrow, task, rctx);
  }
  void MonitorSleep(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kSleep, task, rctx);
  }
  void MonitorWhere(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kWhere, task, rctx);
  }
  void MonitorRelay(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kRelay, task, rctx);
  }
  void MonitorCount(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kCount, task, rctx);
  }
  void MonitorGetCount(chi::MonitorModeId mode, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    MonitorWork(mode, Method::kGetCount, task, rctx);
  }

  void MonitorWork(chi::MonitorModeId mode, chi::u32 method, chi::ipc::FullPtr<WorkTask> task, chi::RunContext &rctx) {
    switch (mode) {
      case chi::MonitorModeId::kLocalSchedule:
        rctx.route_lane_ = GetLaneByHash(0, task->dom_query_.GetSelector());
        break;
      case chi::MonitorModeId::kGlobalSchedule: break;
      case chi::MonitorModeId::kEstLoad:
        rctx.load_.cpu_us_ = method == Method::kSleep ? task->in_ : 1;
        break;
    }
  }

 private:
  std::atomic<chi::u64> counted_{0};
};

}  // namespace chimaera_test::worktest

CHI_TASK_CC(chimaera_test::worktest::Runtime, "worktest");
