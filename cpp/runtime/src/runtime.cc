#include "chimaera/runtime/runtime.h"

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <filesystem>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/ipc/futex.h"
#include "chimaera/runtime/log.h"
#include "chimaera/runtime/module_api.h"

namespace chi {
namespace {
// Directory holding libchimaera_runtime.so: the built-in modules sit beside it
// (build/lib in the build tree, <prefix>/lib when installed).
std::string OwnLibraryDir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void *>(&Runtime::Get), &info) == 0 || info.dli_fname == nullptr) return {};
  return std::filesystem::path(info.dli_fname).parent_path().string();
}

// A worker that finds a lane full must not sleep (it may be the one that has
// to drain it): yield the current task's coroutine instead.
void YieldOnFullLane() {
  Worker *w = CHI_CUR_WORKER;
  if (w != nullptr && w->CurrentContext() != nullptr) {
    w->YieldCurrent();
  } else {
    usleep(50);
  }
}
}  // namespace

Runtime *Runtime::Get() noexcept {
  static Runtime instance;
  return &instance;
}

RemoteQueue::~RemoteQueue() = default;  // key function: RemoteQueue's type info lives here

void Runtime::Start(const ServerConfig &config) {
  config_ = config;
  SetLogLevel(config.log_level);
  cluster_ = ResolveCluster(config);
  // A node of a cluster names its segment after its own table entry: several
  // nodes may share a machine and a port, each on its own address.
  const std::string name =
      cluster_.IsCluster()
          ? ipc::Segment::MakeName(RuntimeInstance(cluster_.table.At(cluster_.self).port,
                                                   cluster_.table.At(cluster_.self).host))
          : ipc::Segment::MakeName(RuntimeInstance(config.port));
  segment_ = ipc::Segment::Create({name, config.shm_size, ipc::AllocatorId(1)});
  ipc::Allocator &alloc = segment_->GetAllocator();

  ipc::FullPtr<RuntimeShared> shared = alloc.NewObj<RuntimeShared>();
  const u32 n = config.num_workers;
  ipc::FullPtr<WorkerShared> workers = alloc.AllocateFull<WorkerShared>(sizeof(WorkerShared) * n);
  if (shared.IsNull() || workers.IsNull()) throw ipc::ShmError("shared memory too small for the runtime's state");
  shared_ = shared.ptr_;
  shared_->num_workers_ = n;
  shared_->node_id_ = cluster_.self;
  node_id_ = shared_->node_id_;
  shared_->runtime_pid_ = static_cast<u32>(getpid());
  shared_->abi_version_ = kChimaeraAbiVersion;
  shared_->workers_ = workers.shm_;
  workers_ = workers.ptr_;
  for (u32 i = 0; i < n; ++i) {
    auto *w = new (&workers_[i]) WorkerShared();
    w->id_ = i;
    // Twice the lanes a worker may own: each lane is in it at most once, plus
    // room for the rare duplicates the LaneSweeper adds.
    const u32 depth = 2 * WorkOrchestrator::kMaxLanesPerWorker;
    ipc::Pointer aq = alloc.AllocateAligned(ActiveQueue::SizeOf(depth), alignof(ActiveQueue));
    if (aq.IsNull()) throw ipc::ShmError("shared memory too small for the workers' active queues");
    new (alloc.Convert(aq)) ActiveQueue(depth);
    w->active_queue_ = aq;
  }
  orchestrator_.Init(this, workers_, n);
  ServerInitQueues();
  CHI_IPC_MANAGER->ServerAdopt(segment_.get(), shared_);
  CHI_IPC_MANAGER->SetFullLaneBackoff(&YieldOnFullLane);

  std::vector<std::string> dirs = config.module_path;
  if (std::string own = OwnLibraryDir(); !own.empty()) dirs.push_back(own);
  size_t loaded = modules_.ScanAndLoad(dirs);
  Log().info("loaded {} module(s)", loaded);
  CreateAdminPool();

  orchestrator_.Start();
  started_ = true;
  if (cluster_.IsCluster()) CreateRemoteQueuePool();
  shared_->state_.store(kRuntimeRunning, std::memory_order_release);
  segment_->SetRoot(shared.shm_);  // clients can connect from here on
  if (cluster_.IsCluster())
    Log().info("runtime ready: node {} of {} ({}, found by {}), {} worker(s), segment {} ({} MiB), pid {}",
               cluster_.self, cluster_.table.Size(), cluster_.table.At(cluster_.self).ToString(), cluster_.how, n, name,
               config.shm_size >> 20, getpid());
  else
    Log().info("runtime ready: port {}, {} worker(s), segment {} ({} MiB), pid {}", config.port, n, name,
               config.shm_size >> 20, getpid());
}

// seeds 000/001: the local remote queue container, to which workers hand
// every task that does not resolve to this node.
void Runtime::CreateRemoteQueuePool() {
  std::unique_ptr<Container> c;
  try {
    c.reset(modules_.CreateContainer("remote_queue", kRemoteQueuePoolId, "remote_queue"));
  } catch (const std::exception &e) {
    throw std::runtime_error(std::string("cannot create the remote queue: ") + e.what() +
                             " (is libchimaera_remote_queue_runtime.so beside libchimaera_runtime.so?)");
  }
  auto *rq = dynamic_cast<RemoteQueue *>(c.get());
  if (rq == nullptr) throw std::runtime_error("the module 'remote_queue' does not implement chi::RemoteQueue");
  c->CreateLocalQueue(0, 1);
  SpanEveryNode(*c);
  rq->Start(config_, cluster_);
  remote_queue_ = rq;
  std::string err;
  if (pools_.Register("remote_queue", "remote_queue", kRemoteQueuePoolId, std::move(c), &err).IsNull())
    throw std::runtime_error("cannot register the remote queue pool: " + err);
}

// seed 003: the runtime creates the process queue (one TaskQueue, every lane
// scheduled on its own worker round-robin).
void Runtime::ServerInitQueues() {
  ipc::Allocator &alloc = segment_->GetAllocator();
  const u32 lanes = config_.lanes_per_queue;
  ipc::FullPtr<TaskQueue> pq = alloc.AllocateFull<TaskQueue>(TaskQueue::SizeOf(lanes, 1, config_.queue_depth));
  if (pq.IsNull()) throw ipc::ShmError("shared memory too small for the process queue");
  new (pq.ptr_) TaskQueue(0, lanes, 1, config_.queue_depth);
  for (u32 l = 0; l < lanes; ++l) {
    pq->GetLane(l).Header().is_process_lane_ = 1;
    orchestrator_.ScheduleLane(pq->GetLane(l));
  }
  shared_->process_queue_ = pq.shm_;
}

// The runtime's own pools have one container per node: container k on node k.
void Runtime::SpanEveryNode(Container &c) const {
  const u32 n = cluster_.IsCluster() ? static_cast<u32>(cluster_.table.Size()) : 1;
  c.container_nodes_.resize(n);
  for (u32 k = 0; k < n; ++k) c.container_nodes_[k] = k;
  c.container_id_ = node_id_;
}

void Runtime::CreateAdminPool() {
  std::unique_ptr<Container> admin;
  try {
    admin.reset(modules_.CreateContainer("admin", kAdminPoolId, "admin"));
  } catch (const std::exception &e) {
    throw std::runtime_error(std::string("cannot create the admin pool: ") + e.what() +
                             " (is libchimaera_admin_runtime.so beside libchimaera_runtime.so or on CHI_REPO_PATH?)");
  }
  admin->CreateLocalQueue(0, 1);
  SpanEveryNode(*admin);
  std::string err;
  if (pools_.Register("admin", "admin", kAdminPoolId, std::move(admin), &err).IsNull())
    throw std::runtime_error("cannot register the admin pool: " + err);
}

void Runtime::WaitForStop(bool handle_signals) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  while (shared_->state_.load(std::memory_order_acquire) != kRuntimeStopping) {
    if (handle_signals) {
      timespec ts{0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig > 0) {
        Log().info("received {}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
      }
    } else {
      u32 key = shared_->stop_doorbell_.PrepareWait();
      if (shared_->state_.load(std::memory_order_acquire) == kRuntimeStopping) {
        shared_->stop_doorbell_.CancelWait();
        break;
      }
      shared_->stop_doorbell_.Wait(key, 100000);
    }
  }
}

void Runtime::RequestStop() noexcept {
  shared_->state_.store(kRuntimeStopping, std::memory_order_release);
  shared_->stop_doorbell_.Notify();
}

void Runtime::Stop() {
  if (stopped_ || segment_ == nullptr) return;
  stopped_ = true;
  shared_->state_.store(kRuntimeStopping, std::memory_order_release);
  if (started_) orchestrator_.Stop();
  // Nothing runs any more: fail every task still queued or blocked.
  size_t failed = 0;
  for (u32 i = 0; i < orchestrator_.NumWorkers(); ++i) orchestrator_.GetWorker(i).FailBlockedTasks();
  TaskQueue &pq = *segment_->GetAllocator().Convert<TaskQueue>(shared_->process_queue_);
  for (u32 l = 0; l < pq.GetNumLanes(); ++l) DrainLane(pq.GetLane(l));
  for (Container *c : pools_.Containers())
    for (TaskLane *lane : c->AllLanes()) DrainLane(*lane);
  (void)failed;
  // Peers get the answers failed above, then a goodbye; tasks this node sent
  // to peers fail with kTaskRuntimeStopping.
  if (remote_queue_ != nullptr) remote_queue_->Shutdown();
  CHI_IPC_MANAGER->Finalize();
  const std::string name = segment_->Name();
  segment_->Detach();
  ipc::Segment::Unlink(name);
  Log().info("runtime stopped; segment {} unlinked", name);
}

void Runtime::DrainLane(TaskLane &lane) {
  ipc::Pointer p;
  while (lane.Pop(p) == ipc::QueueStatus::kOk) {
    if (!IsValidTaskPointer(p)) continue;
    FailTask(ipc::FullPtr<Task>(GetAllocator().Convert<Task>(p), p), kTaskRuntimeStopping,
             "the runtime stopped before running the task");
  }
}

void Runtime::FailTask(ipc::FullPtr<Task> task, i32 code, const std::string &msg) {
  task->SetError(code, msg);
  Log().debug("task (pool {}, method {}) failed: {}", task->pool_.id_, task->method_, msg);
  if (task->task_flags_.Any(TASK_FIRE_AND_FORGET)) return;  // nobody waits; leaked rather than guessed at
  CompleteTask(task);
}

void Runtime::CompleteTask(ipc::FullPtr<Task> task) noexcept {
  if (task->task_flags_.Any(TASK_REMOTE | TASK_REPLICA)) [[unlikely]] {
    // A replica of a fan-out task: merged into its original.
    if (task->task_flags_.Any(TASK_REPLICA) && replicas_.ReplicaDone(task)) return;
    // A task rebuilt from a peer's request: its waiter is on the other node.
    if (task->task_flags_.Any(TASK_REMOTE) && remote_queue_ != nullptr) {
      remote_queue_->Return(task);
      return;
    }
  }
  // seq_cst pairs with Worker::BlockOn's store + re-check (see Task).
  u32 prev = task->completion_.exchange(kComplete, std::memory_order_seq_cst);
  u32 waiter = task->waiter_worker_.load(std::memory_order_seq_cst);
  if (prev == kPendingWaiter) ipc::FutexWake(task->completion_, INT_MAX);  // only parked clients cost a syscall
  if (waiter != 0 && waiter <= shared_->num_workers_) workers_[waiter - 1].doorbell_.Notify();
}

bool Runtime::IsValidTaskPointer(ipc::Pointer p) const noexcept {
  return segment_ != nullptr && p.alloc_id_ == segment_->GetAllocator().Id() &&
         p.offset_ >= ipc::kSegmentHeaderBytes && (p.offset_ & 15) == 0 &&
         p.offset_ + sizeof(Task) <= segment_->Size();
}

u64 Runtime::QueuedWorkUs() const {
  u64 sum = 0;
  for (const Container *c : pools_.Containers()) sum += c->QueuedWorkUs();
  return sum;
}

}  // namespace chi
