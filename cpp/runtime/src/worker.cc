#include "chimaera/runtime/worker.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <functional>

#include "chimaera/ipc/process_id.h"
#include "chimaera/runtime/container.h"
#include "chimaera/runtime/domain_resolution.h"
#include "chimaera/runtime/log.h"
#include "chimaera/runtime/runtime.h"
#include "task_fiber.h"

namespace chi {
namespace {
thread_local Worker *tl_worker = nullptr;
inline void CpuRelax() { __builtin_ia32_pause(); }
using Greater = std::greater<>;
}  // namespace

Worker *Worker::Current() noexcept { return tl_worker; }

Worker::Worker(u32 id, WorkerShared *shared, Runtime *rt)
    : id_(id), shared_(shared), rt_(rt), active_queue_(shared->active_queue_) {}

Worker::~Worker() {
  // Fibers still holding a blocked task are deliberately leaked: destroying
  // them would unwind through module code that is mid-task.
  for (auto &f : all_fibers_) {
    if (f->rctx_ != nullptr) (void)f.release();
  }
}

void Worker::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Worker::RequestStop() noexcept {
  stop_.store(true, std::memory_order_release);
  shared_->doorbell_.Notify();
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Loop() {
  tl_worker = this;
  // `top -H`, perf and gdb show which worker is which (15 characters at most).
  pthread_setname_np(pthread_self(), ("chi_worker_" + std::to_string(id_ % 10000)).c_str());
  int idle = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    bool worked = PollActiveQueue();
    worked |= PollHeldLanes();
    woken_from_park_ = false;
    worked |= RetryOverflow();
    worked |= ResumeReadyWaiters(false);  // seed 003: check the heap's minimum every iteration
    if (worked) {
      idle = 0;
      last_work_local_ = std::exchange(local_work_, false);
      if (RemoteQueue *rq = rt_->GetRemoteQueue()) rq->Flush();  // this iteration's remote sends, batched per peer
      continue;
    }
    // Idle: spin (pause) briefly, then keep polling but yield the core each
    // time so a client or another worker on an oversubscribed machine runs,
    // then park on the doorbell (DESIGN.md §8: no unbounded busy-spin).
    // When the latest client task came from this very CPU (the kernel often
    // wakes a parked worker onto its waker's CPU), that client is waiting
    // for the CPU we hold: skip the pause-spin and yield at once.
    if (++idle == 1) {
      // Only remote work since the last idle stretch (tasks handed to the
      // remote queue, or rebuilt from a peer's request): no local client is
      // about to send the next task, its answer is a network round trip
      // away, and a spinning worker would take a core from the network and
      // ZeroMQ threads that carry it (remote round trip on 2 cores: ~190 ->
      // ~115 µs). Park at once.
      if (!last_work_local_) idle = kIdleSpins + kIdleYields;
      else if (static_cast<int>(last_client_cpu_) == sched_getcpu()) idle = kIdleSpins;
    }
    if (idle < kIdleSpins) {
      CpuRelax();
      continue;
    }
    if (idle < kIdleSpins + kIdleYields) {
      sched_yield();
      continue;
    }
    if (ResumeReadyWaiters(true)) {  // before sleeping, look at every waiter
      idle = 0;
      // What the resumed tasks sent (a completed remote task's reply, a
      // subtask for another node) waits in this thread's batch: send it now.
      if (RemoteQueue *rq = rt_->GetRemoteQueue()) rq->Flush();
      continue;
    }
    if (ReleaseHeldLanes()) {  // a lane got a task while we let go of it
      idle = 0;
      continue;
    }
    // Never sleep on unsent remote messages: the batch leaves on Flush, and
    // a reply left in it would stall its requester until rpc_timeout.
    if (RemoteQueue *rq = rt_->GetRemoteQueue()) rq->Flush();
    // Woken by a doorbell: spin again, work is likely. Woken by the timeout
    // (a waiting task's due time): look once, then park again.
    const bool timed_out = Park();
    idle = timed_out ? kIdleSpins + kIdleYields - 1 : 0;
    woken_from_park_ = !timed_out;
  }
  if (RemoteQueue *rq = rt_->GetRemoteQueue()) rq->Flush();
  tl_worker = nullptr;
}

bool Worker::Park() {
  u32 key = shared_->doorbell_.PrepareWait();
  // Re-check everything that may have changed before PrepareWait, including
  // a subtask completing (its completer's Notify may have seen no waiter).
  const bool waiter_ready = std::any_of(waiting_.begin(), waiting_.end(), [](const WaitEntry &e) {
    return e.rctx->waiting_on_ == nullptr || e.rctx->waiting_on_->IsComplete();
  });
  if (waiter_ready || !active_queue_->IsEmpty() || !overflow_.empty() || stop_.load(std::memory_order_acquire)) {
    shared_->doorbell_.CancelWait();
    return false;
  }
  // No timeout unless a task waits: the LaneSweeper rings us for work a dead
  // client left unannounced, and a timed sleep would make every wake-up
  // cancel its timer (~6 µs on a VM).
  i64 timeout_us = ipc::kWaitForever;
  if (!waiting_.empty()) {
    timeout_us = kMaxWaiterSleepUs;
    u64 now = NowNs();
    u64 due = waiting_.front().due_ns;
    timeout_us = std::min<i64>(timeout_us, due > now ? static_cast<i64>((due - now) / 1000) + 1 : 0);
    if (timeout_us == 0) {
      shared_->doorbell_.CancelWait();
      return false;
    }
  }
  sleep_seq_.fetch_add(1, std::memory_order_seq_cst);  // odd: asleep (LaneSweeper)
  const bool timed_out = shared_->doorbell_.Wait(key, timeout_us) == ipc::FutexStatus::kTimedOut;
  sleep_seq_.fetch_add(1, std::memory_order_seq_cst);
  return timed_out;
}

bool Worker::PollActiveQueue() {
  bool worked = false;
  ipc::Allocator &alloc = rt_->GetAllocator();
  ipc::Pointer lane_ptr;
  if (active_queue_->Pop(lane_ptr) != ipc::QueueStatus::kOk) {
    if (!active_queue_->IsEmpty()) {  // head claimed, not published
      if (u32 pid = RecoverDeadClaim(*active_queue_))
        Log().warn("worker {}: active queue: skipped a slot claimed by process {}, which died scheduling a lane",
                   id_, pid);
    }
    return false;
  }
  for (int lanes = 0; lanes < 16 && (lanes == 0 || active_queue_->Pop(lane_ptr) == ipc::QueueStatus::kOk);
       ++lanes) {
    auto *lane = alloc.Convert<TaskLane>(lane_ptr);
    const int popped = DrainLane(*lane);
    worked |= popped > 0;
    if (popped == 0 && !lane->IsEmpty()) RecoverStuckHead(*lane);
    HoldLane(lane);
  }
  return worked;
}

int Worker::DrainLane(TaskLane &lane) {
  const bool process_lane = lane.Header().is_process_lane_;
  ipc::Pointer task;
  int popped = 0;
  u64 visit_start_ns = 0;
  // A stop leaves the rest queued: Runtime::Stop fails them (DESIGN.md §8).
  while (popped < kTasksPerLaneVisit && !stop_.load(std::memory_order_relaxed) &&
         lane.Pop(task) == ipc::QueueStatus::kOk) {
    if (popped == 0 && process_lane)
      last_client_cpu_ = lane.Header().last_producer_cpu_.load(std::memory_order_relaxed);
    HandleTask(lane, task);
    ++popped;
    // A container lane's visit also ends when its tasks ran for
    // kLaneVisitBudgetNs (timed from the end of its second task, so a visit
    // of one task reads no clock; looked at after each of the next tasks up
    // to the 8th, then after every 8th: ~1% of a short task's cost): then new
    // client tasks are routed before the next one runs, and
    // Monitor(kGlobalSchedule) sees them while long tasks still run (issue 13 §4).
    if (process_lane || popped < 2 || (popped > 8 && (popped & 7) != 0)) continue;
    const u64 now = CoarseNowNs();
    if (popped == 2) {
      visit_start_ns = now;
    } else if (now - visit_start_ns >= kLaneVisitBudgetNs) {
      RouteNewTasks();
      break;
    }
  }
  return popped;
}

void Worker::RouteNewTasks() {
  for (std::size_t i = 0; i < held_lanes_.size(); ++i)
    if (held_lanes_[i]->Header().is_process_lane_) DrainLane(*held_lanes_[i]);
  ipc::Pointer lane_ptr;
  for (int lanes = 0; lanes < 16 && active_queue_->Pop(lane_ptr) == ipc::QueueStatus::kOk; ++lanes) {
    auto *lane = rt_->GetAllocator().Convert<TaskLane>(lane_ptr);
    if (lane->Header().is_process_lane_) DrainLane(*lane);
    HoldLane(lane);  // a container lane: drained on the next round (PollHeldLanes)
  }
}

// Keep holding a lane we drained (TaskQueue: its flag stays 1, producers skip
// the active queue and the doorbell) and poll it directly from now on.
void Worker::HoldLane(TaskLane *lane) {
  if (std::find(held_lanes_.begin(), held_lanes_.end(), lane) != held_lanes_.end()) return;
  if (held_lanes_.size() >= kMaxHeldLanes) {
    TaskLane *oldest = held_lanes_.front();
    // Taken back (it has tasks): it stays held unless the active queue takes it.
    if (!TaskQueue::Release(*oldest) || active_queue_->Push(ipc::ToPointer(oldest)) == ipc::QueueStatus::kOk)
      held_lanes_.erase(held_lanes_.begin());
  }
  held_lanes_.push_back(lane);
}

bool Worker::PollHeldLanes() {
  bool worked = false;
  for (std::size_t i = 0; i < held_lanes_.size(); ++i) worked |= DrainLane(*held_lanes_[i]) > 0;
  return worked;
}

bool Worker::ReleaseHeldLanes() {
  auto still_held = std::remove_if(held_lanes_.begin(), held_lanes_.end(), [this](TaskLane *lane) {
    if (!TaskQueue::Release(*lane)) return true;
    // Taken back with nothing to pop: its head slot is claimed, unpublished.
    ipc::Pointer head;
    if (lane->Queue().Peek(head) != ipc::QueueStatus::kOk) RecoverStuckHead(*lane);
    return false;
  });
  const bool taken_back = still_held != held_lanes_.begin();
  held_lanes_.erase(still_held, held_lanes_.end());
  return taken_back;
}

// A lane that is not empty but has nothing to pop: its head slot is claimed
// and not yet published. Normally its producer is a few instructions from
// done; if it was killed there, skip the slot (DESIGN.md §8).
void Worker::RecoverStuckHead(TaskLane &lane) {
  if (u32 pid = RecoverDeadClaim(lane.Queue()))
    Log().warn("worker {}: lane {} of queue {}: skipped a slot claimed by process {}, which died inside Enqueue", id_,
               lane.Header().lane_id_, lane.Header().queue_id_, pid);
}

// A slot claimed by a producer killed inside Push (MpscQueue::
// RecoverDeadProducer). A /proc read per check: at most one check per
// millisecond per worker. Returns the dead producer's pid, or 0.
u32 Worker::RecoverDeadClaim(ipc::MpscQueue<ipc::Pointer> &queue) {
  const u64 now = NowNs();
  if (now - last_recovery_check_ns_ < 1000000) return 0;
  last_recovery_check_ns_ = now;
  u32 dead_pid = 0;
  bool skipped = queue.RecoverDeadProducer([&](u32 pid) {
    dead_pid = pid;
    return ipc::IsProcessDead(pid);
  });
  return skipped ? dead_pid : 0;
}

void Worker::AddLane(TaskLane *lane) {
  std::lock_guard<std::mutex> lock(lanes_mu_);
  lanes_.push_back({lane, lane->Queue().Head(), false});
}

void Worker::ForgetLanes(const std::vector<TaskLane *> &lanes) {
  std::lock_guard<std::mutex> lock(lanes_mu_);
  std::erase_if(lanes_, [&](const LaneWatch &w) { return std::find(lanes.begin(), lanes.end(), w.lane) != lanes.end(); });
}

// A client that dies between setting a lane's in_active_ flag and pushing the
// lane onto the active queue leaves the lane flagged but unscheduled: nobody
// schedules it again. One that dies between claiming an active-queue slot and
// ringing leaves a parked worker with work it was never told about. The
// LaneSweeper calls this periodically: a lane seen flagged and non-empty by
// two sweeps in a row with its head unmoved is pushed onto the active queue
// again (a duplicate entry is harmless: the lane belongs to this worker only;
// two sweeps, so a lane just scheduled on a worker still waking up is not
// taken for stranded), and the worker is rung if its active queue holds
// anything. Only a parked worker is swept: it holds no lane and has drained
// its active queue, so what the sweep finds is stranded; a worker that is
// awake is swept once it parks again.
void Worker::SweepIfParked() {
  if (shared_->doorbell_.Waiters() == 0) return;
  std::lock_guard<std::mutex> lock(lanes_mu_);
  for (LaneWatch &w : lanes_) {
    const u64 head = w.lane->Queue().Head();
    const bool suspect = !w.lane->IsEmpty() && w.lane->Header().in_active_.load(std::memory_order_acquire) != 0;
    if (suspect && w.suspect && head == w.head) {
      Log().warn("worker {}: lane {} of queue {} was flagged but not scheduled (a client died scheduling it): "
                 "rescheduling",
                 id_, w.lane->Header().lane_id_, w.lane->Header().queue_id_);
      // Full (only if the worker is not draining it): the next sweep retries.
      (void)active_queue_->Push(ipc::ToPointer(w.lane));
    }
    w.head = head;
    w.suspect = suspect;
  }
  if (!active_queue_->IsEmpty()) shared_->doorbell_.Notify();
}

void Worker::HandleTask(TaskLane &lane, ipc::Pointer p) {
  if (!rt_->IsValidTaskPointer(p)) {
    Log().error("worker {}: dropped an invalid task pointer (allocator {}, offset {})", id_, p.alloc_id_.id_,
                p.offset_);
    return;
  }
  ipc::FullPtr<Task> task(rt_->GetAllocator().Convert<Task>(p), p);
  if (lane.Header().is_process_lane_) {
    RouteTask(task);
  } else {
    StartTask(task, reinterpret_cast<Container *>(lane.Header().container_));
  }
}

// Resolve the task's DomainQuery and route it to a container lane (seeds
// 000/001 "Worker", DESIGN.md §3.2).
void Worker::RouteTask(ipc::FullPtr<Task> task) {
  Container *c = rt_->Pools().GetContainer(task->pool_);
  if (c == nullptr) {
    rt_->FailTask(task, kTaskUnknownPool, "no pool with id " + task->pool_.ToString());
    return;
  }
  RunContext rctx;
  rctx.task_ = task;
  rctx.container_ = c;
  rctx.worker_ = this;
  u32 lane_hash = task->dom_query_.GetSelector();
  try {
    if (task->dom_query_.IsDynamic()) {
      // The container replaces the dynamic query with a concrete one.
      c->Monitor(MonitorModeId::kGlobalSchedule, task->method_, task, rctx);
      // Left dynamic: any lane of this node's container will do; spread
      // such tasks round-robin over the lanes (and so the workers), or over
      // the pool's containers when this node holds none.
      if (task->dom_query_.IsDynamic())
        task->dom_query_ = c->HasLocalContainer() ? DomainQuery::GetLocalHash(next_dynamic_lane_++)
                                                  : DomainQuery::GetDirectHash(next_dynamic_lane_++);
    }
    // This node's container by hash (the common case) needs no resolution.
    if (task->dom_query_.GetKind() != DomainQuery::kLocalHash || !c->HasLocalContainer()) [[unlikely]] {
      const Resolution where = ResolveDomain(*c, task->dom_query_, rt_->NodeId());
      switch (where.kind) {
        case Resolution::kLocal: lane_hash = where.lane_hash; break;
        case Resolution::kError:
          local_work_ = true;
          rt_->FailTask(task, kTaskBadArgument, where.error);
          return;
        case Resolution::kFanOut:
          FanOut(task, c, where.first, where.count);
          return;
        case Resolution::kRemote:
          RouteRemote(task, c, where.node);
          return;
      }
    }
    c->Monitor(MonitorModeId::kLocalSchedule, task->method_, task, rctx);
    local_work_ |= !task->task_flags_.Any(TASK_REMOTE);
  } catch (const std::exception &e) {
    rt_->FailTask(task, kTaskModuleException, std::string("Monitor threw: ") + e.what());
    return;
  }
  TaskLane *lane = rctx.route_lane_ ? rctx.route_lane_ : c->GetLaneByHash(0, lane_hash);
  if (lane == nullptr) {
    rt_->FailTask(task, kTaskBadArgument, "pool '" + c->pool_name_ + "' has no local queue to route to");
    return;
  }
  // The first task after a doorbell wake-up: its client waits on a cold
  // path (futex wake, context switch). When the container lane is ours and
  // empty, running the task now keeps lane order and skips a queue hop; then
  // hand the CPU straight back to a client that shares it. Only then: in a
  // busy loop, routing a batch before running it is faster.
  if (woken_from_park_ && overflow_.empty() && !lane->Header().is_process_lane_ &&
      lane->Header().worker_id_ == id_ && lane->IsEmpty()) {
    woken_from_park_ = false;
    StartTask(task, reinterpret_cast<Container *>(lane->Header().container_));
    if (static_cast<int>(last_client_cpu_) == sched_getcpu()) sched_yield();
    return;
  }
  if (!overflow_.empty() || TaskQueue::Enqueue(*lane, task.shm_, rt_->Workers()) != ipc::QueueStatus::kOk)
    overflow_.emplace_back(lane, task.shm_);  // keep order behind earlier overflow; never drop
}

// Not this node: the remote queue sends the task and completes it later.
// False when the task was failed instead.
bool Worker::RouteRemote(ipc::FullPtr<Task> task, Container *c, u32 node) {
  RemoteQueue *rq = rt_->GetRemoteQueue();
  if (rq == nullptr || task->task_flags_.Any(TASK_REMOTE)) local_work_ = true;  // an error answered here
  if (rq == nullptr) {
    rt_->FailTask(task, kTaskBadArgument,
                  "task addressed to node " + std::to_string(node) +
                      ", but this runtime is single-node (its configuration has no networking: section)");
    return false;
  }
  if (task->task_flags_.Any(TASK_REMOTE)) {
    // A peer sent it here; sending it on could loop between nodes.
    rt_->FailTask(task, kTaskBadArgument,
                  "pool '" + c->pool_name_ + "': the task was sent to node " + std::to_string(rt_->NodeId()) +
                      ", which resolves its " + DomainQueryKindName(task->dom_query_.GetKind()) +
                      " query to node " + std::to_string(node) + " (the nodes disagree about the pool)");
    return false;
  }
  rq->Submit(task, c, node);
  return true;
}

// One replica per container, each routed like any task (ReplicaSet).
void Worker::FanOut(ipc::FullPtr<Task> task, Container *c, u32 first, u32 count) {
  std::vector<ipc::FullPtr<Task>> replicas;
  try {
    replicas = rt_->Replicas().MakeReplicas(task, c, first, count);
  } catch (const std::exception &e) {
    local_work_ = true;
    rt_->FailTask(task, kTaskBadArgument, std::string("cannot copy the task for its containers: ") + e.what());
    return;
  }
  for (ipc::FullPtr<Task> r : replicas) RouteTask(r);
}

bool Worker::RetryOverflow() {
  bool worked = false;
  while (!overflow_.empty()) {
    auto [lane, p] = overflow_.front();
    if (TaskQueue::Enqueue(*lane, p, rt_->Workers()) != ipc::QueueStatus::kOk) break;
    overflow_.pop_front();
    worked = true;
  }
  return worked;
}

void Worker::StartTask(ipc::FullPtr<Task> task, Container *c) {
  if (c == nullptr || rt_->Pools().GetContainer(task->pool_) != c) {
    rt_->FailTask(task, kTaskUnknownPool, "pool " + task->pool_.ToString() + " was destroyed");
    return;
  }
  TaskFiber *fiber = AcquireFiber();
  RunContext *rctx = &fiber->ctx_;
  rctx->task_ = task;
  rctx->container_ = c;
  rctx->worker_ = this;
  rctx->fiber_ = fiber;
  fiber->rctx_ = rctx;
  Resume(rctx);
}

void Worker::Resume(RunContext *rctx) {
  if (rctx->blocked_) rctx->container_->tasks_suspended_.fetch_sub(1, std::memory_order_seq_cst);
  rctx->blocked_ = false;
  rctx->waiting_on_ = nullptr;
  current_ = rctx;
  rctx->fiber_->Enter();
  current_ = nullptr;
  if (!rctx->blocked_) Release(rctx);  // finished: fiber and context go back to the pools
}

// Runs on the task's fiber.
void Worker::RunTaskBody(RunContext *rctx) {
  ipc::FullPtr<Task> task = rctx->task_;
  try {
    rctx->container_->Run(task->method_, task, *rctx);
  } catch (const boost::context::detail::forced_unwind &) {
    throw;  // fiber teardown: must propagate
  } catch (const std::exception &e) {
    task->SetError(kTaskModuleException, e.what());
  } catch (...) {
    task->SetError(kTaskModuleException, "unknown exception from the module's Run");
  }
  if (task->task_flags_.Any(TASK_FIRE_AND_FORGET)) {
    rctx->container_->Del(ipc::MemContext(), task->method_, task);
  } else {
    rt_->CompleteTask(task);
  }
  shared_->tasks_completed_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::Suspend(RunContext *rctx) {
  rctx->blocked_ = true;
  rctx->container_->tasks_suspended_.fetch_add(1, std::memory_order_seq_cst);
  rctx->fiber_->Leave();
}

void Worker::BlockOn(Task *sub) {
  RunContext *rctx = current_;
  // Estimate the subtask's run time (seed 003: Monitor(kEstLoad)).
  u64 est_us = 0;
  if (Container *c = rt_->Pools().GetContainer(sub->pool_)) {
    RunContext est;
    est.task_ = ipc::FullPtr<Task>(sub);
    est.container_ = c;
    try {
      c->Monitor(MonitorModeId::kEstLoad, sub->method_, est.task_, est);
      est_us = est.load_.cpu_us_;
    } catch (...) {
    }
  }
  sub->waiter_worker_.store(id_ + 1, std::memory_order_seq_cst);
  if (sub->completion_.load(std::memory_order_seq_cst) == kComplete) return;
  rctx->waiting_on_ = sub;
  waiting_.push_back({NowNs() + std::max<u64>(est_us, 1) * 1000, rctx, 0});
  std::push_heap(waiting_.begin(), waiting_.end(), Greater());
  Suspend(rctx);
}

void Worker::YieldCurrent() {
  RunContext *rctx = current_;
  if (rctx == nullptr) return;
  rctx->waiting_on_ = nullptr;  // ready at once
  waiting_.push_back({NowNs(), rctx, 0});
  std::push_heap(waiting_.begin(), waiting_.end(), Greater());
  Suspend(rctx);
}

bool Worker::ResumeReadyWaiters(bool scan_all) {
  if (waiting_.empty()) return false;
  auto ready = [](const WaitEntry &e) { return e.rctx->waiting_on_ == nullptr || e.rctx->waiting_on_->IsComplete(); };
  std::vector<RunContext *> to_resume;
  if (scan_all) {
    auto it = std::partition(waiting_.begin(), waiting_.end(), [&](const WaitEntry &e) { return !ready(e); });
    for (auto r = it; r != waiting_.end(); ++r) to_resume.push_back(r->rctx);
    waiting_.erase(it, waiting_.end());
    std::make_heap(waiting_.begin(), waiting_.end(), Greater());
  } else {
    // Seed 003: pop the minimum; resume it if its subtask completed. An
    // overdue incomplete minimum is pushed back with a doubled estimate.
    WaitEntry top = waiting_.front();
    if (ready(top)) {
      std::pop_heap(waiting_.begin(), waiting_.end(), Greater());
      waiting_.pop_back();
      to_resume.push_back(top.rctx);
    } else {
      u64 now = NowNs();
      if (top.due_ns <= now) {
        // Overdue: re-check after a doubling delay (50 µs .. 50 ms); the
        // subtask's completer rings our doorbell anyway, so a
        // long subtask does not keep this worker polling.
        std::pop_heap(waiting_.begin(), waiting_.end(), Greater());
        waiting_.pop_back();
        top.backoff_ns = std::min<u64>(top.backoff_ns ? top.backoff_ns * 2 : 50000, kOverdueRecheckMaxNs);
        top.due_ns = now + top.backoff_ns;
        waiting_.push_back(top);
        std::push_heap(waiting_.begin(), waiting_.end(), Greater());
      }
    }
  }
  for (RunContext *r : to_resume) Resume(r);
  return !to_resume.empty();
}

void Worker::FailBlockedTasks() {
  for (auto &e : waiting_) rt_->FailTask(e.rctx->task_, kTaskRuntimeStopping, "the runtime stopped");
  waiting_.clear();
  for (auto &[lane, p] : overflow_)
    rt_->FailTask(ipc::FullPtr<Task>(rt_->GetAllocator().Convert<Task>(p), p), kTaskRuntimeStopping,
                  "the runtime stopped");
  overflow_.clear();
}

TaskFiber *Worker::AcquireFiber() {
  if (free_fibers_.empty()) {
    all_fibers_.push_back(std::make_unique<TaskFiber>(this, kFiberStackBytes));
    return all_fibers_.back().get();
  }
  TaskFiber *f = free_fibers_.back();
  free_fibers_.pop_back();
  return f;
}

void Worker::Release(RunContext *rctx) {
  free_fibers_.push_back(rctx->fiber_);  // rctx is the fiber's own ctx_
  rctx->task_ = ipc::FullPtr<Task>();
  rctx->route_lane_ = nullptr;
  rctx->load_ = Load();
}

// Seed 003 "On the runtime": a task waiting on a subtask yields its worker.
void RuntimeWait(Task *task) {
  if (task->IsComplete()) return;
  Worker *w = CHI_CUR_WORKER;
  if (w != nullptr && w->CurrentContext() != nullptr) {
    while (!task->IsComplete()) w->BlockOn(task);
    return;
  }
  // Not on a task coroutine (e.g. the runtime's main thread): plain wait.
  ClientWait(task, -1);
}

}  // namespace chi
