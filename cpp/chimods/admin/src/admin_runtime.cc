// Runtime side of the admin module (seed 002 "admin"): creates and destroys
// pools through the PoolManager and stops the runtime.
#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <string_view>
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

  /** kCluster on a node of a cluster: coordinate every node (see
   * CreatePoolTask). Otherwise (one node, or a coordinator's kThisNode
   * step): create the pool here. */
  void CreatePool(chi::ipc::FullPtr<CreatePoolTask> task, chi::RunContext &rctx) {
    if (task->scope_ == PoolScope::kCluster && CHI_RUNTIME->Cluster().IsCluster()) return CreateAcrossCluster(task, rctx);
    CreateHere(task, rctx);
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
    const bool known_here = rt->Pools().GetContainer(task->target_) != nullptr;
    if (task->scope_ == PoolScope::kCluster && rt->Cluster().IsCluster() && known_here) {
      // Every other node too (those that are down are reported).
      chi::i32 code = chi::kTaskOk;
      std::vector<std::string> failures = OnOtherNodes(&code, [&](chi::u32 k) {
        return CHI_IPC_MANAGER->NewTask<DestroyPoolTask>(chi::ipc::MemContext(), task->task_node_,
                                                         chi::DomainQuery::GetGlobalNode(k), task->target_,
                                                         PoolScope::kThisNode);
      });
      DestroyHere(task->target_, task, rctx);
      if (!failures.empty())
        task->SetError(code, "pool " + task->target_.ToString() + " was destroyed, but not on " + Join(failures));
      return;
    }
    DestroyHere(task->target_, task, rctx);
  }
  void MonitorDestroyPool(chi::MonitorModeId mode, chi::ipc::FullPtr<DestroyPoolTask> task, chi::RunContext &rctx) {
    DefaultMonitor(mode, task.Cast<chi::Task>(), rctx);
  }

  void ListPools(chi::ipc::FullPtr<ListPoolsTask> task, chi::RunContext &) {
    std::vector<chi::PoolInfo> pools = CHI_RUNTIME->Pools().List();
    std::sort(pools.begin(), pools.end(), [](const auto &a, const auto &b) { return a.id_ < b.id_; });
    std::string text;
    for (const chi::PoolInfo &p : pools) {
      text += p.id_.ToString() + "\t" + p.name_ + "\t" + p.module_ + "\t";
      for (std::size_t i = 0; i < p.container_nodes_.size(); ++i)
        text += (i ? "," : "") + std::to_string(p.container_nodes_[i]);
      text += "\n";
    }
    task->pools_ = text;
  }
  /** A broadcast ListPools (every node's admin container): the union of
   * the nodes' lists by pool id, so a pool only some nodes know (made with
   * PoolScope::kThisNode) appears once. */
  void AggregateListPools(chi::ipc::FullPtr<ListPoolsTask> parent, chi::ipc::FullPtr<ListPoolsTask> replica,
                          bool first) {
    std::map<chi::u64, std::string> by_id;
    auto add = [&by_id](std::string_view text) {
      while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        if (!line.empty()) {
          // A replica's text came from another node: a line that does not
          // start with "<pool id>\t" fails the merge with what it was.
          const std::string_view id_text = line.substr(0, line.find('\t'));
          chi::u64 id = 0;
          const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
          if (ec != std::errc() || end != id_text.data() + id_text.size() || id_text.size() == line.size())
            throw std::runtime_error("a pool line does not start with '<pool id><tab>': '" +
                                     std::string(line.substr(0, 80)) + "'");
          by_id.emplace(id, line);
        }
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      }
    };
    if (!first) add(parent->pools_.view());
    add(replica->pools_.view());
    std::string text;
    for (const auto &[id, line] : by_id) text += line + "\n";
    parent->pools_ = text;
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
  /** The container -> node map the task asks for (its nodes_; empty: every
   * node, or this one on a single-node runtime), or "" with an error set. */
  static bool PoolMap(CreatePoolTask &task, std::vector<chi::u32> *map) {
    chi::Runtime *rt = CHI_RUNTIME;
    const chi::u32 n = rt->Cluster().IsCluster() ? static_cast<chi::u32>(rt->Cluster().table.Size()) : 1;
    map->assign(task.nodes_.begin(), task.nodes_.end());
    if (map->empty()) {
      for (chi::u32 k = 0; k < n; ++k) map->push_back(k);
      if (!rt->Cluster().IsCluster()) (*map)[0] = rt->NodeId();
    }
    std::vector<bool> seen(n, false);
    for (chi::u32 node : *map) {
      if (node >= n) {
        task.SetError(chi::kTaskBadArgument, "CreatePool: node " + std::to_string(node) + " is not in the cluster (" +
                                                 std::to_string(n) + " node" + (n == 1 ? "" : "s") + ")");
        return false;
      }
      if (seen[node]) {
        task.SetError(chi::kTaskBadArgument, "CreatePool: node " + std::to_string(node) + " is listed twice");
        return false;
      }
      seen[node] = true;
    }
    return true;
  }

  /** Load the module's container, run its kCreate with this task (so it
   * reads args_ and creates its local queues) where this node holds a
   * container, then register the pool with its map. */
  void CreateHere(chi::ipc::FullPtr<CreatePoolTask> task, chi::RunContext &rctx) {
    chi::Runtime *rt = CHI_RUNTIME;
    const std::string name = task->pool_name_.str(), mod = task->mod_name_.str();
    std::vector<chi::u32> map;
    if (name.empty()) return task->SetError(chi::kTaskBadArgument, "CreatePool needs a pool name");
    if (!PoolMap(*task, &map)) return;
    if (!rt->Pools().FindPool(name).IsNull())
      return task->SetError(chi::kTaskPoolExists, "a pool named '" + name + "' already exists");
    // A qualified name, or a bare one that only one loaded module has.
    std::string unknown;
    const chi::ModuleInfo *info = rt->Modules().Find(mod, &unknown);
    if (info == nullptr) return task->SetError(chi::kTaskUnknownModule, unknown);
    std::unique_ptr<chi::Container> c;
    try {
      c.reset(rt->Modules().CreateContainer(info->qualified_, task->pool_id_, name));
    } catch (const std::exception &e) {
      return task->SetError(chi::kTaskUnknownModule, e.what());
    }
    c->container_nodes_ = map;
    c->container_id_ = chi::Container::kNoContainer;
    for (chi::u32 i = 0; i < map.size(); ++i)
      if (map[i] == rt->NodeId()) c->container_id_ = i;
    // A node without a container keeps the object to schedule and serialize
    // the pool's tasks: no Create, no lanes.
    if (c->HasLocalContainer()) {
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
    }
    std::string err;
    chi::PoolId id = rt->Pools().Register(name, info->qualified_, task->pool_id_, std::move(c), &err);
    if (id.IsNull()) return task->SetError(chi::kTaskPoolExists, err);
    task->pool_id_ = id;
    task->nodes_.assign(map.data(), map.size());
    task->mod_name_ = info->qualified_;
  }

  /** kCluster: this node proposes an id, creates the pool here, then on
   * every other node at once; if any fails, the nodes that made it destroy
   * it again and the task fails naming the nodes that refused. */
  void CreateAcrossCluster(chi::ipc::FullPtr<CreatePoolTask> task, chi::RunContext &rctx) {
    chi::Runtime *rt = CHI_RUNTIME;
    std::vector<chi::u32> map;
    if (!PoolMap(*task, &map)) return;
    if (task->pool_id_.IsNull()) task->pool_id_ = rt->Pools().NextFreeId();
    task->nodes_.assign(map.data(), map.size());
    CreateHere(task, rctx);
    if (task->HasError()) return;
    const chi::PoolId id = task->pool_id_;
    const std::string name = task->pool_name_.str(), mod = task->mod_name_.str(), args = task->args_.str();
    std::vector<chi::u32> made;
    chi::i32 code = chi::kTaskOk;
    // A node outside the map that is down is skipped (it learns nothing of
    // the pool); one that holds a container, or refuses, fails the create.
    auto tolerated = [&](chi::u32 k, chi::i32 rc) {
      if (rc != chi::kTaskNodeUnreachable || std::find(map.begin(), map.end(), k) != map.end()) return false;
      chi::Log().warn("pool '{}' created without node {} (unreachable; it has none of its containers)", name, k);
      return true;
    };
    std::vector<std::string> failures = OnOtherNodes(
        &code,
        [&](chi::u32 k) {
          return CHI_IPC_MANAGER->NewTask<CreatePoolTask>(chi::ipc::MemContext(), task->task_node_,
                                                          chi::DomainQuery::GetGlobalNode(k), name, mod, args, id, map,
                                                          PoolScope::kThisNode);
        },
        &made, tolerated);
    if (failures.empty()) return;
    // Roll back: no node keeps a half-created pool.
    chi::i32 ignored = chi::kTaskOk;
    OnNodes(made, &ignored, [&](chi::u32 k) {
      return CHI_IPC_MANAGER->NewTask<DestroyPoolTask>(chi::ipc::MemContext(), task->task_node_,
                                                       chi::DomainQuery::GetGlobalNode(k), id, PoolScope::kThisNode);
    });
    DestroyHere(id, task, rctx);
    task->SetError(code, "cannot create pool '" + name + "' on every node: " + Join(failures) +
                                            " (no node kept it)");
  }

  /** Run the admin's Destroy of `id` on this node (`task` reports errors). */
  template <typename TaskT>
  void DestroyHere(chi::PoolId id, chi::ipc::FullPtr<TaskT> task, chi::RunContext &rctx) {
    chi::Runtime *rt = CHI_RUNTIME;
    chi::Container *c = rt->Pools().GetContainer(id);
    // Unpublish first: a second DestroyPool of the same pool then fails
    // instead of running the module's Destroy again.
    if (c == nullptr || !rt->Pools().Destroy(id)) {
      if (std::is_same_v<TaskT, DestroyPoolTask>) task->SetError(chi::kTaskUnknownPool, "no pool with id " + id.ToString());
      return;
    }
    if (!c->HasLocalContainer()) return;
    // Count the module's Destroy as a task of the retired container, so its
    // queues are not reclaimed while it runs (it may wait on subtasks).
    c->tasks_suspended_.fetch_add(1, std::memory_order_relaxed);
    struct Done {
      chi::Container *c;
      ~Done() { c->tasks_suspended_.fetch_sub(1, std::memory_order_seq_cst); }
    } done{c};  // also when the module's Destroy throws
    if constexpr (std::is_same_v<TaskT, DestroyPoolTask>) {
      c->Run(Method::kDestroy, task.template Cast<chi::Task>(), rctx);  // module's Destroy(task, rctx)
    } else {
      auto *ipc = CHI_IPC_MANAGER;
      auto destroy = ipc->NewTask<DestroyPoolTask>(chi::ipc::MemContext(), task->task_node_,
                                                   chi::DomainQuery::GetLocalHash(0), id, PoolScope::kThisNode);
      try {
        c->Run(Method::kDestroy, destroy.template Cast<chi::Task>(), rctx);
      } catch (...) {
        ipc->DelTask(destroy);
        throw;
      }
      ipc->DelTask(destroy);
    }
  }

  /** Submit make(k) to every node but this one, wait for all; returns
   * "node k (addr): message" for each that failed (`code`: the first
   * failure's), and fills `ok` with the nodes that succeeded. */
  using Tolerated = std::function<bool(chi::u32 node, chi::i32 code)>;
  template <typename Make>
  std::vector<std::string> OnOtherNodes(chi::i32 *code, Make make, std::vector<chi::u32> *ok = nullptr,
                                        const Tolerated &tolerated = nullptr) {
    std::vector<chi::u32> nodes;
    for (chi::u32 k = 0; k < CHI_RUNTIME->Cluster().table.Size(); ++k)
      if (k != CHI_RUNTIME->NodeId()) nodes.push_back(k);
    return OnNodes(nodes, code, make, ok, tolerated);
  }
  /** OnOtherNodes for `nodes`; a failure for which tolerated(k, code) says
   * true is neither reported nor counted as a success. */
  template <typename Make>
  std::vector<std::string> OnNodes(const std::vector<chi::u32> &nodes, chi::i32 *code, Make make,
                                   std::vector<chi::u32> *ok = nullptr, const Tolerated &tolerated = nullptr) {
    auto *ipc = CHI_IPC_MANAGER;
    using TaskPtr = decltype(make(0u));
    std::vector<std::pair<chi::u32, TaskPtr>> sent;
    for (chi::u32 k : nodes) {
      TaskPtr t = make(k);
      ipc->Enqueue(t);
      sent.emplace_back(k, t);
    }
    std::vector<std::string> failures;
    for (auto &[k, t] : sent) {
      t->Wait();
      if (!t->HasError()) {
        if (ok != nullptr) ok->push_back(k);
      } else if (!tolerated || !tolerated(k, t->return_code_)) {
        if (*code == chi::kTaskOk) *code = t->return_code_;
        std::string msg = t->error_.str();
        // The remote queue's errors already name the node.
        failures.push_back(msg.rfind("node ", 0) == 0 ? msg : "node " + std::to_string(k) + ": " + msg);
      }
      ipc->DelTask(t);
    }
    return failures;
  }
  static std::string Join(const std::vector<std::string> &parts) {
    std::string s;
    for (const std::string &p : parts) s += (s.empty() ? "" : "; ") + p;
    return s;
  }
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
