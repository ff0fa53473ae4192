#pragma once
/**
 * @file remote_queue_tasks.h
 * Tasks of the remote queue module, and the layout of the payload frames it
 * puts in chimaera::net requests and replies (DESIGN.md §7).
 *
 * Request payload: bytes = RemoteTaskHeader (24 bytes: u64 pool id, u32
 * method, u32 0, u64 the task's type identity, Task::type_id_) followed by
 * the task's IN bytes (TaskOutputArchiveIN with
 * its bulk buffers outside the stream); frames 1.. = the CHI_WRITE bulk
 * buffers, in SerializeIn order.
 * Reply payload: bytes = RemoteReplyHeader (16 bytes: u32 status, i32
 * return code, u64 0) followed by, for status kRemoteOutputs, the task's OUT
 * bytes (TaskOutputArchiveOUT), frames 1.. = the CHI_EXPOSE buffers; for
 * kRemoteError, the error message (the task could not be rebuilt or run).
 */
#include "admin/admin_tasks.h"
#include "chimaera/core/task_archives.h"
#include "remote_queue_methods.h"

namespace chimaera::remote_queue {
using CreateTask = chimaera::admin::CreatePoolTask;
using DestroyTask = chimaera::admin::DestroyPoolTask;

inline constexpr std::size_t kRemoteHeaderBytes = 16;         /**< reply header */
inline constexpr std::size_t kRemoteRequestHeaderBytes = 24;  /**< request header */
enum RemoteReplyStatus : chi::u32 { kRemoteOutputs = 0, kRemoteError = 1 };

/** The node table with each node's state: OUT `peers_` has one line per node,
 * "<id>\t<host:port>\t<state>\t<incarnation hex>\t<load>\t<ms since heard, -1: never>\t<requests in flight>\t<reason>\n"
 * (state: self, connecting, alive, dead, refused). */
struct PeersTask : public chi::Task {
  OUT chi::ipc::string peers_;

  explicit PeersTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc), peers_(alloc.Get()) {}
  PeersTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node,
            const chi::DomainQuery &dom_query)
      : chi::Task(alloc), peers_(alloc.Get()) {
    task_node_ = task_node;
    pool_ = chi::kRemoteQueuePoolId;
    method_ = Method::kPeers;
    dom_query_ = dom_query;
  }
  template <typename Ar>
  void SerializeIn(Ar &) {}
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(peers_);
  }
};

}  // namespace chimaera::remote_queue
