#pragma once
/**
 * @file admin_tasks.h
 * Tasks of the admin module (seed 002 "admin", DESIGN.md §5).
 * `CreatePoolTask` is also every module's `CreateTask`: the admin runs the new
 * container's kCreate method with it, so a module reads its `args_`.
 */
#include <string>
#include <vector>

#include "admin_methods.h"  // generated from chimaera_mod.yaml
#include "chimaera/core/task.h"
#include "chimaera/core/task_archives.h"

namespace chimaera::admin {

/** Where a CreatePool / DestroyPool runs. */
enum class PoolScope : chi::u32 {
  /** The admin that gets the task coordinates the whole cluster: every node
   * registers the pool (same id, name and container -> node map), the nodes
   * listed hold its containers; a failure on any node undoes the others. */
  kCluster = 0,
  /** This node only: one step of a coordinator's kCluster operation. */
  kThisNode = 1,
};

/** Create a pool of module `mod_name_` named `pool_name_` (seed 002) with
 * one container per node of `nodes_` (empty: every node of the cluster;
 * container c on nodes_[c]). The name and id are the same cluster-wide; a
 * node that is down or refuses makes the creation fail, naming it, and no
 * node keeps the pool. OUT `pool_id_` and `nodes_` (the container -> node
 * map). */
struct CreatePoolTask : public chi::Task {
  IN chi::ipc::string pool_name_;  /**< name of the pool to create (unique) */
  IN chi::ipc::string mod_name_;   /**< module to create containers from */
  INOUT chi::PoolId pool_id_;      /**< requested id (optional input), the id (output) */
  INOUT chi::ipc::string args_;    /**< module-specific arguments (opaque bytes) */
  IN PoolScope scope_ = PoolScope::kCluster;
  INOUT chi::ipc::vector<chi::u32> nodes_;  /**< nodes of its containers (empty: all) / the map */

  explicit CreatePoolTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc)
      : chi::Task(alloc), pool_name_(alloc.Get()), mod_name_(alloc.Get()), args_(alloc.Get()), nodes_(alloc.Get()) {}
  CreatePoolTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node,
                 const chi::DomainQuery &dom_query, const std::string &pool_name, const std::string &mod_name,
                 const std::string &args, chi::PoolId requested = chi::PoolId(),
                 const std::vector<chi::u32> &nodes = {}, PoolScope scope = PoolScope::kCluster)
      : chi::Task(alloc), pool_name_(alloc.Get(), pool_name), mod_name_(alloc.Get(), mod_name),
        pool_id_(requested), args_(alloc.Get(), args), scope_(scope), nodes_(alloc.Get()) {
    task_node_ = task_node;
    pool_ = chi::kAdminPoolId;
    method_ = Method::kCreatePool;
    dom_query_ = dom_query;
    if (!nodes.empty()) nodes_.assign(nodes.data(), nodes.size());
  }

  template <typename Ar>
  void SerializeIn(Ar &ar) {
    ar(pool_name_, mod_name_, pool_id_, args_, scope_, nodes_);
  }
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(pool_id_, args_, nodes_);
  }
};

/** Destroy pool `target_` (runs its kDestroy, then forgets it) on every
 * node (kCluster; nodes that are down are reported, the others destroy it
 * all the same) or on this node only (kThisNode). */
struct DestroyPoolTask : public chi::Task {
  IN chi::PoolId target_;
  IN PoolScope scope_ = PoolScope::kCluster;

  explicit DestroyPoolTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc) {}
  DestroyPoolTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node,
                  const chi::DomainQuery &dom_query, chi::PoolId target, PoolScope scope = PoolScope::kCluster)
      : chi::Task(alloc), target_(target), scope_(scope) {
    task_node_ = task_node;
    pool_ = chi::kAdminPoolId;
    method_ = Method::kDestroyPool;
    dom_query_ = dom_query;
  }

  template <typename Ar>
  void SerializeIn(Ar &ar) {
    ar(target_, scope_);
  }
  template <typename Ar>
  void SerializeOut(Ar &) {}
};

/** Which runtimes a StopRuntimeTask stops. */
enum class StopScope : chi::u32 {
  kThisNode = 0,  /**< the runtime that runs the task */
  kAllNodes = 1,  /**< every node of its cluster: it stops the others first, then itself */
};

/** Stop the runtime gracefully (completes before the runtime stops). With
 * kAllNodes, the admin sends a kThisNode stop to every other node and waits
 * for their answers (an unreachable node is logged and skipped) first;
 * OUT `stopped_` is then the number of nodes that accepted, this one included. */
struct StopRuntimeTask : public chi::Task {
  IN StopScope scope_ = StopScope::kThisNode;
  OUT chi::u32 stopped_ = 0;

  explicit StopRuntimeTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc) {}
  StopRuntimeTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node,
                  const chi::DomainQuery &dom_query, StopScope scope = StopScope::kThisNode)
      : chi::Task(alloc), scope_(scope) {
    task_node_ = task_node;
    pool_ = chi::kAdminPoolId;
    method_ = Method::kStopRuntime;
    dom_query_ = dom_query;
  }

  template <typename Ar>
  void SerializeIn(Ar &ar) {
    ar(scope_);
  }
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(stopped_);
  }
};

/** List the pools of the cluster (every node registers every pool): OUT
 * `pools_` holds one line per pool, "<id>\t<name>\t<module>\t<nodes>\n",
 * sorted by id, <nodes> the container -> node map ("0,1,2"). */
struct ListPoolsTask : public chi::Task {
  OUT chi::ipc::string pools_;

  explicit ListPoolsTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc), pools_(alloc.Get()) {}
  ListPoolsTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node,
                const chi::DomainQuery &dom_query)
      : chi::Task(alloc), pools_(alloc.Get()) {
    task_node_ = task_node;
    pool_ = chi::kAdminPoolId;
    method_ = Method::kListPools;
    dom_query_ = dom_query;
  }
  template <typename Ar>
  void SerializeIn(Ar &) {}
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(pools_);
  }
};

/** The loaded modules: OUT `modules_` holds one line per module,
 * "<qualified name>\t<library path>\n", sorted by name. */
struct ListModulesTask : public chi::Task {
  OUT chi::ipc::string modules_;

  explicit ListModulesTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc), modules_(alloc.Get()) {}
  ListModulesTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node,
                  const chi::DomainQuery &dom_query)
      : chi::Task(alloc), modules_(alloc.Get()) {
    task_node_ = task_node;
    pool_ = chi::kAdminPoolId;
    method_ = Method::kListModules;
    dom_query_ = dom_query;
  }
  template <typename Ar>
  void SerializeIn(Ar &) {}
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(modules_);
  }
};

/** Every module's kCreate / kDestroy task types. */
using CreateTask = CreatePoolTask;
using DestroyTask = DestroyPoolTask;

}  // namespace chimaera::admin
