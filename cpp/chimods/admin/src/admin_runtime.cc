// Runtime side of the admin module (seed 002 "admin"): creates and destroys
// pools through the PoolManager and stops the runtime.
#include <algorithm>
#include <string>
#include <vector>

#include "admin/admin_tasks.h"
#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/log.h"
#include "chimaera/runtime/module_api.h"
#include "chimaera/runtime/runtime.h"

namespace chimaera::admin {

class Runtime : public chi::Container {
 public:
#include "admin_lib_exec.h"  // generated: Run / Monitor / Del

  void Create(chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void MonitorCreate(chi::MonitorModeId mode, chi::ipc::FullPtr<CreateTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void MonitorDestroy(chi::MonitorModeId mode, chi::ipc::FullPtr<DestroyTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

  /** Load the module's container, run its kCreate with this task (so it
   * reads args_ and creates its local queues), then register the pool. */
  void CreatePool(chi::ipc::FullPtr<CreatePoolTask> task, chi::RunContext &rctx) {
    chi::Runtime *rt = CHI_RUNTIME;
    const std::string name = task->pool_name_.str(), mod = task->mod_name_.str();
    if (name.empty()) {
      task->SetError(chi::kTaskBadArgument, "CreatePool needs a pool name");
      return;
    }
    if (!rt->Pools().FindPool(name).IsNull()) {
      task->SetError(chi::kTaskPoolExists, "a pool named '" + name + "' already exists");
      return;
    }
    // A qualified name, or a bare one that only one loaded module has.
    std::string unknown;
    const chi::ModuleInfo *info = rt->Modules().Find(mod, &unknown);
    if (info == nullptr) {
      task->SetError(chi::kTaskUnknownModule, unknown);
      return;
    }
    std::unique_ptr<chi::Container> c;
    try {
      c.reset(rt->Modules().CreateContainer(info->qualified_, task->pool_id_, name));
    } catch (const std::exception &e) {
      task->SetError(chi::kTaskUnknownModule, e.what());
      return;
    }
    try {
      c->Run(Method::kCreate, task.Cast<chi::Task>(), rctx);  // module's Create(task, rctx)
    } catch (const std::exception &e) {
      task->SetError(chi::kTaskModuleException, std::string("Create threw: ") + e.what());
    }
    if (task->HasError()) {
      rt->Pools().Retire(std::move(c));  // it may have made (and mapped) local queues
      return;
    }
    try {
      if (c->AllLanes().empty()) c->CreateLocalQueue(0, rt->Config().lanes_per_queue);
    } catch (const std::exception &e) {
      task->SetError(chi::kTaskModuleException, e.what());
      rt->Pools().Retire(std::move(c));
      return;
    }
    std::string err;
    chi::PoolId id = rt->Pools().Register(name, info->qualified_, task->pool_id_, std::move(c), &err);
    if (id.IsNull()) {
      task->SetError(chi::kTaskPoolExists, err);
      return;
    }
    task->pool_id_ = id;
  }
  void MonitorCreatePool(chi::MonitorModeId mode, chi::ipc::FullPtr<CreatePoolTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

  void DestroyPool(chi::ipc::FullPtr<DestroyPoolTask> task, chi::RunContext &rctx) {
    chi::Runtime *rt = CHI_RUNTIME;
    if (task->target_ == chi::kAdminPoolId || task->target_ == chi::kRemoteQueuePoolId) {
      task->SetError(chi::kTaskBadArgument, "the runtime's own pools (admin, remote_queue) cannot be destroyed");
      return;
    }
    chi::Container *c = rt->Pools().GetContainer(task->target_);
    // Unpublish first: a second DestroyPool of the same pool then fails
    // instead of running the module's Destroy again.
    if (c == nullptr || !rt->Pools().Destroy(task->target_)) {
      task->SetError(chi::kTaskUnknownPool, "no pool with id " + task->target_.ToString());
      return;
    }
    // Count the module's Destroy as a task of the retired container, so its
    // queues are not reclaimed while it runs (it may wait on subtasks).
    c->tasks_suspended_.fetch_add(1, std::memory_order_relaxed);
    struct Done {
      chi::Container *c;
      ~Done() { c->tasks_suspended_.fetch_sub(1, std::memory_order_seq_cst); }
    } done{c};  // also when the module's Destroy throws
    c->Run(Method::kDestroy, task.Cast<chi::Task>(), rctx);  // module's Destroy(task, rctx)
  }
  void MonitorDestroyPool(chi::MonitorModeId mode, chi::ipc::FullPtr<DestroyPoolTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

  void ListPools(chi::ipc::FullPtr<ListPoolsTask> task, chi::RunContext &) {
    std::vector<chi::PoolInfo> pools = CHI_RUNTIME->Pools().List();
    std::sort(pools.begin(), pools.end(), [](const auto &a, const auto &b) { return a.id_ < b.id_; });
    std::string text;
    for (const chi::PoolInfo &p : pools) text += p.id_.ToString() + "\t" + p.name_ + "\t" + p.module_ + "\n";
    task->pools_ = text;
  }
  void MonitorListPools(chi::MonitorModeId mode, chi::ipc::FullPtr<ListPoolsTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

  void ListModules(chi::ipc::FullPtr<ListModulesTask> task, chi::RunContext &) {
    std::string text;
    for (const chi::ModuleInfo *m : CHI_RUNTIME->Modules().Modules()) text += m->qualified_ + "\t" + m->path_ + "\n";
    task->modules_ = text;
  }
  void MonitorListModules(chi::MonitorModeId mode, chi::ipc::FullPtr<ListModulesTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

  void StopRuntime(chi::ipc::FullPtr<StopRuntimeTask> task, chi::RunContext &) {
    chi::Runtime *rt = CHI_RUNTIME;
    task->stopped_ = 1;
    if (task->scope_ == StopScope::kAllNodes && rt->Cluster().IsCluster()) {
      // Every other node first (their answers travel while we still run).
      auto *ipc = CHI_IPC_MANAGER;
      std::vector<chi::ipc::FullPtr<StopRuntimeTask>> stops;
      for (chi::u32 k = 0; k < rt->Cluster().table.Size(); ++k) {
        if (k == rt->NodeId()) continue;
        auto t = ipc->NewTask<StopRuntimeTask>(chi::ipc::MemContext(), task->task_node_,
                                               chi::DomainQuery::GetGlobalNode(k), StopScope::kThisNode);
        ipc->Enqueue(t);
        stops.push_back(t);
      }
      for (auto &t : stops) {
        t->Wait();
        if (t->HasError()) chi::Log().warn("stop: {}", t->error_.str());
        else ++task->stopped_;
        ipc->DelTask(t);
      }
      chi::Log().info("stop: {} of {} nodes accepted the stop", task->stopped_, rt->Cluster().table.Size());
    }
    rt->RequestStop();
  }
  void MonitorStopRuntime(chi::MonitorModeId mode, chi::ipc::FullPtr<StopRuntimeTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

 private:
  // Admin work is rare: one lane, negligible load estimate.
  void DefaultMonitor(chi::MonitorModeId mode, chi::ipc::FullPtr<chi::Task>, chi::RunContext &rctx) {
    switch (mode) {
      case chi::MonitorModeId::kLocalSchedule: rctx.route_lane_ = GetLane(0, 0); break;
      case chi::MonitorModeId::kGlobalSchedule: break;
      case chi::MonitorModeId::kEstLoad: rctx.load_.cpu_us_ = 10; break;
    }
  }
};

}  // namespace chimaera::admin

CHI_TASK_CC(chimaera::admin::Runtime, "admin");
