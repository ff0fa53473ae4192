#pragma once
/**
 * @file admin_client.h
 * Client of the admin pool (always pool 1): create and destroy pools of any
 * module, stop the runtime. Blocking calls throw chi::TaskError (code +
 * message from the runtime); Async* return the task, which the caller waits
 * on and frees with CHI_IPC_MANAGER->DelTask.
 * Thread-safety: stateless apart from pool_id_; callable from any thread.
 */
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_tasks.h"
#include "chimaera/client/container_client.h"

namespace chimaera::admin {

class Client : public chi::ContainerClient {
 public:
  Client() { pool_id_ = chi::kAdminPoolId; }

  template <typename TaskT>
  static chi::ipc::FullPtr<TaskT> Submit(chi::ipc::FullPtr<TaskT> task) {
    CHI_IPC_MANAGER->Enqueue(task);
    return task;
  }

  chi::ipc::FullPtr<CreatePoolTask> AsyncCreatePool(const chi::ipc::MemContext &mctx,
                                                    const chi::DomainQuery &dom_query, const std::string &pool_name,
                                                    const std::string &mod_name, const std::string &args = "",
                                                    chi::PoolId requested = chi::PoolId(),
                                                    const std::vector<chi::u32> &nodes = {},
                                                    PoolScope scope = PoolScope::kCluster) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<CreatePoolTask>(mctx, ipc->NewTaskNode(), dom_query, pool_name, mod_name, args,
                                             requested, nodes, scope);
    ipc->Enqueue(task);
    return task;
  }
  /** Create a pool; returns its id. `nodes`: the nodes of its containers
   * 0..N-1 in that order (empty: every node of the cluster); `scope`
   * kCluster creates it on every node (all or none: a node that refuses or
   * is down fails the call naming it, and no node keeps the pool), kThisNode
   * only on the node the query reaches. Throws chi::TaskError (unknown
   * module, pool exists on some node, bad node list, the module's Create
   * failed, kTaskNodeUnreachable). */
  chi::PoolId CreatePool(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query,
                         const std::string &pool_name, const std::string &mod_name, const std::string &args = "",
                         chi::PoolId requested = chi::PoolId(), const std::vector<chi::u32> &nodes = {},
                         PoolScope scope = PoolScope::kCluster) {
    auto task = WaitChecked(AsyncCreatePool(mctx, dom_query, pool_name, mod_name, args, requested, nodes, scope));
    chi::PoolId id = task->pool_id_;
    CHI_IPC_MANAGER->DelTask(task);
    return id;
  }
  /** Destroy pool `target` on every node (kCluster; nodes that are down
   * are named in the error, the others destroy it all the same) or on the
   * node the query reaches (kThisNode). Throws chi::TaskError (unknown pool,
   * kTaskNodeUnreachable). */
  void DestroyPool(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query, chi::PoolId target,
                   PoolScope scope = PoolScope::kCluster) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<DestroyPoolTask>(mctx, ipc->NewTaskNode(), dom_query, target, scope);
    ipc->Enqueue(task);
    ipc->DelTask(WaitChecked(task));
  }
  /** One pool of ListPools. */
  struct PoolDesc {
    chi::PoolId id;
    std::string name;
    std::string module;
    std::vector<chi::u32> nodes;  /**< node of each container 0..N-1 */
  };
  /** The runtime's pools, sorted by id (the admin pool first). */
  std::vector<PoolDesc> ListPools(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = WaitChecked(Submit(ipc->NewTask<ListPoolsTask>(mctx, ipc->NewTaskNode(), dom_query)));
    std::vector<PoolDesc> out;
    std::string_view text = task->pools_.view();
    while (!text.empty()) {
      std::size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      const std::size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1), t3 = line.find('\t', t2 + 1);
      if (t1 != std::string_view::npos && t2 != std::string_view::npos && t3 != std::string_view::npos) {
        PoolDesc d{chi::PoolId(std::stoull(std::string(line.substr(0, t1)))),
                   std::string(line.substr(t1 + 1, t2 - t1 - 1)), std::string(line.substr(t2 + 1, t3 - t2 - 1)), {}};
        std::string_view nodes = line.substr(t3 + 1);
        while (!nodes.empty()) {
          const std::size_t comma = nodes.find(',');
          d.nodes.push_back(static_cast<chi::u32>(std::stoul(std::string(nodes.substr(0, comma)))));
          nodes = comma == std::string_view::npos ? std::string_view() : nodes.substr(comma + 1);
        }
        out.push_back(std::move(d));
      }
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    ipc->DelTask(task);
    return out;
  }
  /** A loaded module: its qualified name and the library it came from. */
  struct ModuleDesc {
    std::string name;
    std::string path;
  };
  /** The runtime's modules, sorted by qualified name. */
  std::vector<ModuleDesc> ListModules(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = WaitChecked(Submit(ipc->NewTask<ListModulesTask>(mctx, ipc->NewTaskNode(), dom_query)));
    std::vector<ModuleDesc> out;
    std::string_view text = task->modules_.view();
    while (!text.empty()) {
      const std::size_t nl = text.find('\n');
      const std::string_view line = text.substr(0, nl);
      const std::size_t tab = line.find('\t');
      if (tab != std::string_view::npos) out.push_back({std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    ipc->DelTask(task);
    return out;
  }
  /** Ask the runtime to stop (kAllNodes: every node of its cluster); returns
   * once it accepted, with the number of nodes that did. */
  chi::u32 StopRuntime(const chi::ipc::MemContext &mctx, const chi::DomainQuery &dom_query,
                       StopScope scope = StopScope::kThisNode) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<StopRuntimeTask>(mctx, ipc->NewTaskNode(), dom_query, scope);
    ipc->Enqueue(task);
    WaitChecked(task);
    const chi::u32 n = task->stopped_;
    ipc->DelTask(task);
    return n;
  }
};

}  // namespace chimaera::admin
