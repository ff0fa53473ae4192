#include "chimaera/client/ipc_manager.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>
#include <cstdlib>
#include <functional>
#include <thread>

namespace chi {

IpcManager *IpcManager::Get() noexcept {
  static IpcManager instance;
  return &instance;
}

u16 DefaultPort() noexcept {
  if (const char *env = std::getenv("CHI_PORT")) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v < 65536) return static_cast<u16>(v);
  }
  return 9413;
}

std::string DefaultHost() {
  const char *env = std::getenv("CHI_HOST");
  return env ? std::string(env) : std::string();
}

std::string RuntimeInstance(u16 port, const std::string &host) {
  return host.empty() ? std::to_string(port) : std::to_string(port) + "_" + host;
}

std::string FindRuntimeSegment(u16 port, const std::string &host) {
  if (!host.empty()) return ipc::Segment::MakeName(RuntimeInstance(port, host));
  const std::string single = ipc::Segment::MakeName(RuntimeInstance(port));
  if (ipc::Segment::QueryOwner(single) == ipc::OwnerState::kAlive) return single;
  // Nodes of a cluster on this machine: "<single>_<host>". POSIX shm names
  // live in /dev/shm on Linux.
  const std::string prefix = single.substr(1) + "_";
  std::vector<std::string> live;
  std::error_code ec;
  for (const auto &entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) != 0) continue;
    if (ipc::Segment::QueryOwner("/" + file) == ipc::OwnerState::kAlive) live.push_back(file);
  }
  if (live.size() == 1) return "/" + live[0];
  if (live.empty()) return single;
  std::sort(live.begin(), live.end());
  std::string hosts;
  for (const std::string &f : live) hosts += (hosts.empty() ? "" : ", ") + f.substr(prefix.size());
  throw RuntimeUnavailable(std::to_string(live.size()) + " Chimaera nodes run on this machine with port " +
                           std::to_string(port) + " (hosts " + hosts +
                           "): set CHI_HOST (or pass the host) to pick one");
}

void IpcManager::ClientInit(u16 port, const std::string &host_arg) {
  const u16 want = port ? port : DefaultPort();
  const std::string want_host = host_arg.empty() ? DefaultHost() : host_arg;
  if (IsInitialized()) {
    if (want == port_ && want_host == host_ && IsRuntimeAlive()) return;
    Finalize();  // another runtime, or ours died: attach afresh
  }
  port_ = want;
  host_ = want_host;
  std::string name = FindRuntimeSegment(port_, host_);
  try {
    owned_segment_ = ipc::Segment::Attach(name);
  } catch (const ipc::ShmError &e) {
    throw RuntimeUnavailable(std::string("cannot connect to the Chimaera runtime on port ") + std::to_string(port_) +
                             ": " + e.what());
  }
  ipc::Pointer root = owned_segment_->GetRoot();
  auto *shared = owned_segment_->GetAllocator().Convert<RuntimeShared>(root);
  if (root.IsNull() || shared->magic_ != RuntimeShared::kMagic ||
      shared->state_.load(std::memory_order_acquire) != kRuntimeRunning) {
    owned_segment_.reset();
    throw RuntimeUnavailable("the Chimaera runtime on port " + std::to_string(port_) +
                             " is not serving (starting, stopping, or a stale segment '" + name + "')");
  }
  if (shared->abi_version_ != kChimaeraAbiVersion) {
    const u32 theirs = shared->abi_version_;
    owned_segment_.reset();
    throw RuntimeUnavailable("the Chimaera runtime on port " + std::to_string(port_) + " has ABI version " +
                             std::to_string(theirs) + ", this client has ABI version " +
                             std::to_string(kChimaeraAbiVersion) + ": use a client and runtime from one build");
  }
  if (ipc::Segment::QueryOwner(name) != ipc::OwnerState::kAlive) {
    owned_segment_.reset();
    throw RuntimeUnavailable("the Chimaera runtime that created '" + name + "' is dead (stale segment)");
  }
  segment_ = owned_segment_.get();
  alloc_ = segment_->GetAllocator();
  ipc::MemoryRegistry::SetDefault(alloc_.Id());
  runtime_start_ticks_ = segment_->Header().owner_start_ticks_;
  workers_ = alloc_.Convert<WorkerShared>(shared->workers_);
  process_queue_ = alloc_.Convert<TaskQueue>(shared->process_queue_);
  shared_ = shared;
}

void IpcManager::ClientInitWait(u16 port, int wait_ms, const std::string &host) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    try {
      ClientInit(port, host);
      return;
    } catch (const RuntimeUnavailable &) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

void IpcManager::ServerAdopt(ipc::Segment *segment, RuntimeShared *shared) noexcept {
  segment_ = segment;
  alloc_ = segment->GetAllocator();
  ipc::MemoryRegistry::SetDefault(alloc_.Id());
  runtime_start_ticks_ = segment->Header().owner_start_ticks_;
  workers_ = alloc_.Convert<WorkerShared>(shared->workers_);
  process_queue_ = alloc_.Convert<TaskQueue>(shared->process_queue_);
  port_ = 0;
  shared_ = shared;
}

void IpcManager::Finalize() noexcept {
  shared_ = nullptr;
  workers_ = nullptr;
  process_queue_ = nullptr;
  segment_ = nullptr;
  alloc_ = ipc::Allocator();
  owned_segment_.reset();
}

bool IpcManager::IsRuntimeAlive() const noexcept {
  if (segment_ == nullptr) return false;
  // Unknown (unreadable /proc) counts as alive: declaring a live runtime dead
  // would let the caller free a task the runtime is still writing.
  return ipc::QueryProcess(static_cast<int>(segment_->Header().owner_pid_), runtime_start_ticks_) !=
         ipc::ProcessState::kGone;
}

ipc::Pointer IpcManager::AllocateTaskMemory(std::size_t bytes) {
  // In-flight tasks free memory as they complete: retry with backoff for
  // about a second before reporting out-of-memory.
  for (int attempt = 0;; ++attempt) {
    ipc::Pointer p = alloc_.Allocate(bytes);
    if (!p.IsNull()) return p;
    if (attempt > 1100) throw ipc::ShmOutOfMemory();
    if (attempt < 100) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void IpcManager::EnqueuePointer(ipc::Pointer task) {
  // One lane per submitting thread keeps a thread's tasks in FIFO order. A
  // Dynamic task promises no order (its container places it), so it takes the
  // next lane round-robin: every worker then routes some, and none waits
  // behind a worker busy running a long task.
  thread_local const std::size_t thread_hash = std::hash<std::thread::id>()(std::this_thread::get_id());
  thread_local std::size_t next_dynamic = thread_hash;
  TaskQueue &pq = *process_queue_;
  const Task *t = alloc_.Convert<Task>(task);
  const bool dynamic = t->dom_query_.IsDynamic();
  TaskLane &lane = pq.GetLane(static_cast<LaneId>((dynamic ? next_dynamic++ : thread_hash) % pq.GetNumLanes()), 0);
  for (int attempt = 0;; ++attempt) {
    bool woke = false;
    if (TaskQueue::Enqueue(lane, task, workers_, &woke) == ipc::QueueStatus::kOk) {
      if (woke) NoteWokeParkedWorker();
      NoteEnqueued(t);
      return;
    }
    // Full lane: the worker is behind. Back off, but never drop the task.
    if (full_lane_backoff_ != nullptr) {
      full_lane_backoff_();
      continue;
    }
    if (attempt < 64) {
      sched_yield();
      continue;
    }
    if (attempt % 256 == 0 &&
        (shared_->state_.load(std::memory_order_acquire) != kRuntimeRunning || !IsRuntimeAlive()))
      throw RuntimeUnavailable("the Chimaera runtime stopped while a task was being submitted");
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

}  // namespace chi
