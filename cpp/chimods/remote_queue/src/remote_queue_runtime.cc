// Runtime of the remote queue (seeds 000/001 "Remote Queue ChiMod Design",
// DESIGN.md §7 "Life of a remote task"):
//  origin: Submit (a worker) serializes the task's IN side (SaveIn, CHI_WRITE
//    bulk as frames of their own) and hands it to the transport; OnReply (the
//    network thread) applies the OUT side (LoadOut, CHI_EXPOSE buffers) to the
//    original task and completes it, OnRequestFailed fails it.
//  peer: OnRequest (network thread) rebuilds the task in this node's segment
//    (LoadIn), marks it TASK_REMOTE and submits it through the normal path
//    (process lane, Monitor(kLocalSchedule), container lane, worker); when it
//    completes the runtime calls Return (a worker), which serializes its OUT
//    side, frees it and sends the reply.
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/net/transport.h"
#include "chimaera/net/wire.h"
#include "chimaera/runtime/log.h"
#include "chimaera/runtime/module_api.h"
#include "chimaera/runtime/remote_queue.h"
#include "chimaera/runtime/runtime.h"
#include "chimaera/runtime/worker.h"
#include "remote_queue/remote_queue_tasks.h"

namespace chimaera::remote_queue {

namespace net = chi::net;

class Runtime : public chi::Container, public chi::RemoteQueue, public net::TransportHandler {
 public:
#include "remote_queue_lib_exec.h"  // generated: Run / Monitor / Del / SaveIn / ...

  ~Runtime() override { Shutdown(); }

  // The runtime makes this pool itself (Runtime::CreateRemoteQueuePool) and
  // calls Start; CreatePool/DestroyPool never reach it.
  void Create(chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void MonitorCreate(chi::MonitorModeId, chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void MonitorDestroy(chi::MonitorModeId, chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}

  void Peers(chi::ipc::FullPtr<PeersTask> task, chi::RunContext &) {
    std::string text;
    for (const net::PeerStatus &p : transport_->Peers())
      text += fmt::format("{}\t{}\t{}\t{:x}\t{}\t{}\t{}\t{}\n", p.node, p.address.ToString(), net::PeerStateName(p.state),
                          p.incarnation, p.load, p.ms_since_heard, p.requests_in_flight, p.reason);
    task->peers_ = text;
  }
  void MonitorPeers(chi::MonitorModeId mode, chi::ipc::FullPtr<PeersTask>, chi::RunContext &rctx) {
    if (mode == chi::MonitorModeId::kLocalSchedule) rctx.route_lane_ = GetLane(0, 0);
    if (mode == chi::MonitorModeId::kEstLoad) rctx.load_.cpu_us_ = 5;
  }

  // ---- chi::RemoteQueue -----------------------------------------------------
  void Start(const chi::ServerConfig &config, const chi::ClusterConfig &cluster) override {
    cluster_ = cluster;
    net::TransportOptions o;
    o.table = cluster.table;
    o.self = cluster.self;
    o.abi_version = chi::kChimaeraAbiVersion;
    o.rpc_timeout = std::chrono::milliseconds(config.networking.rpc_timeout_ms);
    o.heartbeat_interval = std::chrono::milliseconds(config.networking.heartbeat_interval_ms);
    o.peer_dead_after = std::chrono::milliseconds(config.networking.peer_dead_after_ms);
    o.max_frame_bytes = static_cast<chi::i64>(config.networking.max_frame_size);
    o.log = spdlog::get("chimaera");
    if (!o.log) o.log = std::shared_ptr<spdlog::logger>(&chi::Log(), [](spdlog::logger *) {});
    max_expose_bytes_ = config.networking.max_frame_size;
    transport_ = std::make_unique<net::Transport>(std::move(o), this);
    try {
      transport_->Start();
    } catch (const net::TransportError &e) {
      transport_.reset();
      throw std::runtime_error(e.what());
    }
  }

  bool NodeLoad(chi::u32 node, chi::u64 *queued_us, chi::u64 *requests_in_flight) const noexcept override {
    return transport_ && transport_->PeerLoad(node, queued_us, requests_in_flight);
  }
  // Network thread, each heartbeat round: the figure peers schedule by.
  void OnHeartbeatRound() override { transport_->SetLocalLoad(CHI_RUNTIME->QueuedWorkUs()); }

  void Submit(chi::ipc::FullPtr<chi::Task> task, chi::Container *c, chi::u32 node) noexcept override {
    if (node >= cluster_.table.Size()) {
      CHI_RUNTIME->FailTask(task, chi::kTaskBadArgument,
                            "the task is addressed to node " + std::to_string(node) + ", but the cluster has " +
                                std::to_string(cluster_.table.Size()) + " nodes (0.." +
                                std::to_string(cluster_.table.Size() - 1) + ")");
      return;
    }
    net::Payload frames;
    try {
      std::vector<chi::BulkSegment> bulk;
      chi::TaskOutputArchiveIN ar;
      ar.SetBulkOut(&bulk);
      c->SaveIn(task->method_, ar, task);
      frames = MakePayload(RequestHeader(task->pool_, task->method_, task->type_id_), ar.Bytes(), bulk);
    } catch (const std::exception &e) {
      CHI_RUNTIME->FailTask(task, chi::kTaskBadArgument,
                            "cannot send the task to " + NodeName(node) + ": serializing it failed: " + e.what());
      return;
    }
    auto *cookie = new InFlight{task, c, node};
    if (CHI_CUR_WORKER == nullptr || IsLarge(frames)) return transport_->SendRequest(node, cookie, std::move(frames));
    Batch &b = ThisThreadsBatch();
    b.requests[node].push_back({cookie, std::move(frames)});
    b.dirty = true;
  }

  void Return(chi::ipc::FullPtr<chi::Task> task) noexcept override {
    Served served;
    {
      std::lock_guard<std::mutex> lock(served_mu_);
      auto it = served_.find(task.shm_.offset_);
      if (it == served_.end()) {
        chi::Log().error("remote queue: a completed remote task (pool {}, method {}) has no requester; freed",
                         task->pool_.id_, task->method_);
        return;
      }
      served = std::move(it->second);
      served_.erase(it);
    }
    net::Payload frames;
    try {
      std::vector<chi::BulkSegment> bulk;
      chi::TaskOutputArchiveOUT ar;
      ar.SetBulkOut(&bulk);
      served.container->SaveOut(task->method_, ar, task);
      frames = MakePayload(ReplyHeader(kRemoteOutputs, task->return_code_), ar.Bytes(), bulk);
    } catch (const std::exception &e) {
      frames = ErrorPayload(chi::kTaskModuleException, std::string("serializing the outputs failed: ") + e.what());
    }
    FreeRebuilt(served.container, task->method_, task, served.buffers);
    if (CHI_CUR_WORKER == nullptr || IsLarge(frames)) return transport_->SendReply(served.origin, std::move(frames));
    Batch &b = ThisThreadsBatch();
    b.replies.push_back({served.origin, std::move(frames)});
    b.dirty = true;
  }

  void Flush() noexcept override {
    Batch &b = ThisThreadsBatch();
    if (!b.dirty || !transport_) return;
    b.dirty = false;
    for (chi::u32 node = 0; node < b.requests.size(); ++node)
      if (!b.requests[node].empty()) transport_->SendRequests(node, b.requests[node]);
    if (!b.replies.empty()) {
      // Replies to one requester run leave together (SendReplies groups runs).
      std::stable_sort(b.replies.begin(), b.replies.end(), [](const auto &x, const auto &y) {
        return x.to.node != y.to.node ? x.to.node < y.to.node : x.to.incarnation < y.to.incarnation;
      });
      transport_->SendReplies(b.replies);
    }
  }

  void Shutdown() noexcept override {
    if (transport_) transport_->Stop();
  }

  // ---- net::TransportHandler (network thread) ----------------------------------
  void OnRequest(const net::RequestOrigin &origin, net::ReceivedPayload payload) override {
    chi::Runtime *rt = CHI_RUNTIME;
    if (payload.bytes.size() < kRemoteRequestHeaderBytes)
      return ReplyError(origin, chi::kTaskBadArgument, "malformed request (no task header)");
    const auto *h = reinterpret_cast<const chi::u8 *>(payload.bytes.data());
    const chi::PoolId pool(net::GetU64(h));
    const chi::u32 method = net::GetU32(h + 8);
    const chi::u64 type_id = net::GetU64(h + 16);
    if (rt->Shared().state_.load(std::memory_order_acquire) != chi::kRuntimeRunning)
      return ReplyError(origin, chi::kTaskRuntimeStopping, "the runtime is stopping");
    chi::Container *c = rt->Pools().GetContainer(pool);
    if (c == nullptr) return ReplyError(origin, chi::kTaskUnknownPool, "no pool with id " + pool.ToString());
    const std::vector<chi::BulkSegment> bulk = Segments(payload.bulk);
    chi::ipc::FullPtr<chi::Task> task;
    std::vector<chi::ipc::Pointer> buffers;
    try {
      const std::string_view bytes = payload.bytes.substr(kRemoteRequestHeaderBytes);
      chi::TaskInputArchiveIN ar(bytes, CHI_IPC_MANAGER->GetAllocator());
      ar.SetBulkIn(bulk);
      ar.SetMaxExposeBytes(max_expose_bytes_);
      task = c->LoadIn(method, ar);
      buffers = ar.LoadedBulk();
      if (ar.BulkSegmentsUsed() != bulk.size() || task->pool_ != pool || task->method_ != method) {
        FreeRebuilt(c, method, task, buffers);
        return ReplyError(origin, chi::kTaskBadArgument, "malformed request (task bytes disagree with its header)");
      }
      // The origin's task and the one this node's module rebuilt for the
      // method must be one type (same name and size): else the two nodes
      // run different builds of the module, or the task was not this
      // method's type to begin with.
      if (task->type_id_ != type_id) {
        FreeRebuilt(c, method, task, buffers);
        return ReplyError(origin, chi::kTaskUnsupportedMethod,
                          "pool '" + c->pool_name_ + "' method " + std::to_string(method) +
                              " takes another task type on this node than the task sent (another build of the "
                              "module, or a method of another module)");
      }
    } catch (const std::exception &e) {
      return ReplyError(origin, chi::kTaskBadArgument, std::string("cannot rebuild the task: ") + e.what());
    }
    task->task_flags_.UnsetBits(chi::TASK_FIRE_AND_FORGET | chi::TASK_REPLICA);
    task->task_flags_.SetBits(chi::TASK_REMOTE);
    {
      // Before it can complete (Return looks it up).
      std::lock_guard<std::mutex> lock(served_mu_);
      served_[task.shm_.offset_] = Served{origin, c, buffers};
    }
    try {
      CHI_IPC_MANAGER->EnqueuePointer(task.shm_);
    } catch (const std::exception &e) {
      {
        std::lock_guard<std::mutex> lock(served_mu_);
        served_.erase(task.shm_.offset_);
      }
      FreeRebuilt(c, method, task, buffers);
      ReplyError(origin, chi::kTaskRuntimeStopping, e.what());
    }
  }

  void OnReply(void *cookie, net::ReceivedPayload payload) override {
    std::unique_ptr<InFlight> f(static_cast<InFlight *>(cookie));
    chi::ipc::FullPtr<chi::Task> task = f->task;
    if (payload.bytes.size() < kRemoteHeaderBytes)
      return Finish(*f, chi::kTaskBadArgument, NodeName(f->node) + " sent a malformed reply (no header)");
    const auto *h = reinterpret_cast<const chi::u8 *>(payload.bytes.data());
    const chi::u32 status = net::GetU32(h);
    const auto code = static_cast<chi::i32>(net::GetU32(h + 4));
    const std::string_view body = payload.bytes.substr(kRemoteHeaderBytes);
    if (status == kRemoteError) return Finish(*f, code ? code : chi::kTaskBadArgument, NodeName(f->node) + ": " +
                                                                                             std::string(body));
    if (status != kRemoteOutputs)
      return Finish(*f, chi::kTaskBadArgument, NodeName(f->node) + " sent a reply of unknown status");
    const std::vector<chi::BulkSegment> bulk = Segments(payload.bulk);
    try {
      chi::TaskInputArchiveOUT ar(body, CHI_IPC_MANAGER->GetAllocator());
      ar.SetBulkIn(bulk);
      f->container->LoadOut(task->method_, ar, task);
      if (ar.BulkSegmentsUsed() != bulk.size()) throw chi::ArchiveError("unexpected bulk frames");
    } catch (const std::exception &e) {
      return Finish(*f, chi::kTaskBadArgument, NodeName(f->node) + " sent a malformed reply: " + e.what());
    }
    // The error, if any, says which node it came from.
    if (task->HasError()) task->SetError(task->return_code_, NodeName(f->node) + ": " + task->error_.str());
    Finish(*f, chi::kTaskOk, "");
  }

  void OnRequestFailed(void *cookie, net::RequestFailure why, const std::string &message) override {
    std::unique_ptr<InFlight> f(static_cast<InFlight *>(cookie));
    chi::i32 code = chi::kTaskNodeUnreachable;
    switch (why) {
      case net::RequestFailure::kUnreachable: code = chi::kTaskNodeUnreachable; break;
      case net::RequestFailure::kTimedOut: code = chi::kTaskTimedOut; break;
      case net::RequestFailure::kStopping: code = chi::kTaskRuntimeStopping; break;
      case net::RequestFailure::kBadRequest: code = chi::kTaskBadArgument; break;
    }
    Finish(*f, code, message);
  }

 private:
  /** An origin task waiting for its node's answer. */
  struct InFlight {
    chi::ipc::FullPtr<chi::Task> task;
    chi::Container *container;  // the task's pool here (retired, never freed, if destroyed meanwhile)
    chi::u32 node;
  };
  /** A task rebuilt from a peer's request, until it completes. */
  struct Served {
    net::RequestOrigin origin;
    chi::Container *container = nullptr;
    std::vector<chi::ipc::Pointer> buffers;  // its bulk buffers, allocated by LoadIn
  };

  /** Free a rebuilt task and the bulk buffers LoadIn made for it (a task
   * never frees its Pointer fields). */
  static void FreeRebuilt(chi::Container *c, chi::u32 method, chi::ipc::FullPtr<chi::Task> task,
                          const std::vector<chi::ipc::Pointer> &buffers) {
    c->Del(chi::ipc::MemContext(), method, task);
    for (const chi::ipc::Pointer &p : buffers) CHI_IPC_MANAGER->GetAllocator().Free(p);
  }

  std::string NodeName(chi::u32 node) const {
    return "node " + std::to_string(node) + " (" + cluster_.table.At(node).ToString() + ")";
  }

  /** Complete an origin task: with `code` / `message` unless kTaskOk (the
   * outputs were applied). A fire-and-forget task is freed instead. */
  void Finish(InFlight &f, chi::i32 code, const std::string &message) {
    if (code != chi::kTaskOk) f.task->SetError(code, message);
    if (f.task->task_flags_.Any(chi::TASK_FIRE_AND_FORGET)) {
      f.container->Del(chi::ipc::MemContext(), f.task->method_, f.task);
      return;
    }
    CHI_RUNTIME->CompleteTask(f.task);
  }

  static std::array<chi::u8, kRemoteRequestHeaderBytes> RequestHeader(chi::PoolId pool, chi::u32 method,
                                                                      chi::u64 type_id) {
    std::array<chi::u8, kRemoteRequestHeaderBytes> h{};
    net::PutU64(h.data(), pool.id_);
    net::PutU32(h.data() + 8, method);
    net::PutU64(h.data() + 16, type_id);
    return h;
  }
  static std::array<chi::u8, kRemoteHeaderBytes> ReplyHeader(chi::u32 status, chi::i32 code) {
    std::array<chi::u8, kRemoteHeaderBytes> h{};
    net::PutU32(h.data(), status);
    net::PutU32(h.data() + 4, static_cast<chi::u32>(code));
    return h;
  }
  /** Bytes = header + archive bytes; one frame per bulk buffer (copied: the
   * task may complete, and its buffer be freed, before ZeroMQ sends it). */
  template <std::size_t N>
  static net::Payload MakePayload(const std::array<chi::u8, N> &header, std::string_view bytes,
                                  const std::vector<chi::BulkSegment> &bulk) {
    net::Payload p;
    p.bytes.reserve(header.size() + bytes.size());
    p.bytes.append(reinterpret_cast<const char *>(header.data()), header.size());
    p.bytes.append(bytes);
    p.bulk.reserve(bulk.size());
    for (const chi::BulkSegment &b : bulk) p.bulk.emplace_back(b.data, b.size);
    return p;
  }
  static std::vector<chi::BulkSegment> Segments(const net::Frames &frames) {
    std::vector<chi::BulkSegment> out;
    out.reserve(frames.size());
    for (const auto &f : frames) out.push_back({static_cast<const char *>(f.data()), f.size()});
    return out;
  }
  static net::Payload ErrorPayload(chi::i32 code, const std::string &message) {
    return MakePayload(ReplyHeader(kRemoteError, code), message, {});
  }
  void ReplyError(const net::RequestOrigin &origin, chi::i32 code, const std::string &message) {
    transport_->SendReply(origin, ErrorPayload(code, message));
  }

  /** Payloads this big leave at once instead of with the worker's batch: a
   * batch leaves as one message, and big ones pipeline better alone (the
   * peer starts on the first while the next is on the wire). */
  static constexpr std::size_t kBatchedPayloadBytes = 64 << 10;
  static bool IsLarge(const net::Payload &p) {
    std::size_t n = p.bytes.size();
    for (const auto &f : p.bulk) n += f.size();
    return n >= kBatchedPayloadBytes;
  }

  /** What one worker queued during its current loop iteration (Flush). */
  struct Batch {
    bool dirty = false;
    std::vector<std::vector<net::Transport::Request>> requests;  // by node
    std::vector<net::Transport::Reply> replies;
  };
  Batch &ThisThreadsBatch() {
    thread_local Batch batch;  // one runtime per process: one remote queue
    if (batch.requests.size() != cluster_.table.Size()) batch.requests.resize(cluster_.table.Size());
    return batch;
  }

  chi::ClusterConfig cluster_;
  std::unique_ptr<net::Transport> transport_;
  chi::u64 max_expose_bytes_ = 0;
  std::mutex served_mu_;
  std::unordered_map<chi::u64, Served> served_;  // by the rebuilt task's segment offset
};

}  // namespace chimaera::remote_queue

CHI_TASK_CC(chimaera::remote_queue::Runtime, "remote_queue");
