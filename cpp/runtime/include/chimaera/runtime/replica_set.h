#pragma once
/**
 * @file replica_set.h
 * `chi::ReplicaSet`: fan-out tasks (DomainQuery::GetRange / GetBroadcast;
 * DESIGN.md §7, seeds 000/001). The worker that resolves such a task makes
 * one replica per container (a copy through SaveIn + LoadIn, addressed
 * GetDirectId(container), flagged TASK_REPLICA) and routes each like any
 * task: local ones to this node's lanes, the others straight to their nodes
 * through the remote queue (direct sends: no tree; a pool has one container
 * per node, so a broadcast costs one message per node). The original is
 * never run; it completes when its last replica did: the module's
 * Aggregate merges every successful replica's outputs into it (default: the
 * first one's OUT fields), and when replicas failed it fails with the first
 * failure's code (kTaskNodeUnreachable for a dead node, within the failure
 * detection time) and a message naming every failed container and node.
 * Thread-safety: any worker or the network thread may call ReplicaDone.
 */
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chimaera/core/task.h"
#include "chimaera/runtime/container.h"

namespace chi {

class ReplicaSet {
 public:
  /** Copies of `parent` (a task of container `c`), one per container
   * first..first+count-1, registered and ready to be routed. Throws what
   * the archives throw (the copies made so far are freed). */
  std::vector<ipc::FullPtr<Task>> MakeReplicas(ipc::FullPtr<Task> parent, Container *c, u32 first, u32 count);
  /** Runtime::CompleteTask of a TASK_REPLICA task: merge, free it, and
   * complete its original after the last one. False when `replica` is not
   * one of ours (a client set the flag): complete it as a normal task. */
  bool ReplicaDone(ipc::FullPtr<Task> replica) noexcept;

 private:
  struct FanOut {
    std::mutex mu;
    ipc::FullPtr<Task> parent;
    Container *container = nullptr;
    u32 total = 0;
    u32 pending = 0;
    u32 failed = 0;
    bool have_output = false;
    i32 first_error = kTaskOk;
    std::string errors;
  };
  struct Replica {
    std::shared_ptr<FanOut> fan_out;
    ContainerId container = 0;
    std::vector<ipc::Pointer> buffers;  // bulk buffers its LoadIn allocated
  };
  std::mutex mu_;
  std::unordered_map<u64, Replica> replicas_;  // by the replica's shm offset
};

}  // namespace chi
