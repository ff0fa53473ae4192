#include "chimaera/runtime/container.h"

#include <new>
#include <stdexcept>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/runtime.h"

namespace chi {

void Container::CreateLocalQueue(QueueId queue_id, u32 num_lanes, IntFlag /*flags*/) {
  for (auto &q : queues_)
    if (q.id == queue_id)
      throw std::runtime_error("pool '" + pool_name_ + "': local queue " + std::to_string(queue_id) + " exists");
  Runtime *rt = CHI_RUNTIME;
  const u32 depth = rt->Config().queue_depth;
  if (num_lanes == 0) num_lanes = 1;
  ipc::FullPtr<TaskQueue> q = rt->GetAllocator().AllocateFull<TaskQueue>(TaskQueue::SizeOf(num_lanes, 1, depth));
  if (q.IsNull()) throw std::runtime_error("pool '" + pool_name_ + "': shared memory full creating a local queue");
  new (q.ptr_) TaskQueue(queue_id, num_lanes, 1, depth);
  std::vector<TaskLane *> mapped;
  try {
    for (u32 l = 0; l < num_lanes; ++l) {
      TaskLane &lane = q->GetLane(l);
      lane.Header().container_ = reinterpret_cast<u64>(this);
      lane.Header().is_process_lane_ = 0;
      rt->Orchestrator().ScheduleLane(lane);
      mapped.push_back(&lane);
    }
  } catch (...) {  // out of lanes: undo, nothing of this queue stays behind
    rt->Orchestrator().UnmapLanes(mapped);
    rt->GetAllocator().Free(q.shm_);
    throw;
  }
  queues_.push_back({queue_id, q});
  first_queue_ = queues_.front().queue.ptr_;
  first_queue_id_ = queues_.front().id;
}

TaskLane *Container::FindLane(QueueId queue_id, LaneId lane_id) {
  for (auto &q : queues_)
    if (q.id == queue_id) return &q.queue->GetLane(lane_id % q.queue->GetNumLanes());
  return nullptr;
}

void Container::FreeQueues(ipc::Allocator &alloc) {
  for (auto &q : queues_) alloc.Free(q.queue.shm_);
  queues_.clear();
  first_queue_ = nullptr;
}

std::vector<TaskLane *> Container::AllLanes() {
  std::vector<TaskLane *> out;
  for (auto &q : queues_)
    for (u32 l = 0; l < q.queue->GetNumLanes(); ++l) out.push_back(&q.queue->GetLane(l));
  return out;
}

void Container::NewCopy(u32 method, const ipc::FullPtr<Task> &orig, ipc::FullPtr<Task> &dup, bool /*deep*/) {
  TaskOutputArchiveIN out;
  SaveIn(method, out, orig);
  const std::string bytes = out.Get();
  TaskInputArchiveIN in(bytes, CHI_IPC_MANAGER->GetAllocator());
  dup = LoadIn(method, in);
}

void Container::Aggregate(u32 method, ipc::FullPtr<Task> parent, ipc::FullPtr<Task> replica, bool first) {
  if (!first) return;
  TaskOutputArchiveOUT out;
  SaveOut(method, out, replica);
  const std::string bytes = out.Get();
  TaskInputArchiveOUT in(bytes, CHI_IPC_MANAGER->GetAllocator());
  const i32 code = parent->return_code_;
  LoadOut(method, in, parent);
  parent->return_code_ = code;  // the fan-out decides the outcome
}

}  // namespace chi
