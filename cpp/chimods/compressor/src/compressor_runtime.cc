// Runtime of the compressor module: zstd / zlib on caller buffers in shared
// memory. Each lane may run on its own worker; the codec contexts are
// per call, so Compress/Decompress are safe to run concurrently.
#include <isa-l/crc.h>
#include <zlib.h>
#include <zstd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/module_api.h"
#include "chimaera/runtime/runtime.h"
#include "compressor/compressor_tasks.h"

namespace chimaera::compressor {
namespace {
// Throughput assumed by kEstLoad, in bytes per microsecond (~200 MB/s).
constexpr chi::u64 kEstBytesPerUs = 200;

// One zstd context per worker thread, reused across tasks (creating one per
// call costs more than compressing a small file). Tasks run on fibers of
// that thread but never yield inside a codec call, so no two tasks share a
// context at once.
ZSTD_CCtx *ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx *)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  return ctx.get();
}
ZSTD_DCtx *ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx *)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  return ctx.get();
}

/** CRC-32 as zlib computes it (the gzip polynomial, reflected), through
 * Intel ISA-L's PCLMUL implementation: the same values at ~12 GB/s instead
 * of zlib 1.2's ~3 GB/s (it was 17 % of a worker's time decompressing). */
chi::u32 Crc32(const char *p, chi::u64 n) {
  chi::u32 crc = 0;
  while (n > 0) {  // ISA-L takes u64 lengths; chunk anyway to stay in its tested range
    const chi::u64 chunk = std::min<chi::u64>(n, 1u << 30);
    crc = crc32_gzip_refl(crc, reinterpret_cast<const unsigned char *>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return crc;
}
}  // namespace

class Runtime : public chi::Container {
 public:
#include "compressor_lib_exec.h"

  void Create(chi::ipc::FullPtr<CreateTask> task, chi::RunContext &) {
    chi::u32 lanes = CHI_RUNTIME->Config().lanes_per_queue;
    std::string args = task->args_.str();
    if (args.rfind("lanes=", 0) == 0) {
      lanes = static_cast<chi::u32>(std::strtoul(args.c_str() + 6, nullptr, 10));
      if (lanes == 0 || lanes > 1024) {
        task->SetError(chi::kTaskBadArgument, "compressor: lanes must be 1..1024, got '" + args + "'");
        return;
      }
    } else if (!args.empty()) {
      task->SetError(chi::kTaskBadArgument, "compressor: unknown argument '" + args + "' (expected lanes=N)");
      return;
    }
    CreateLocalQueue(0, lanes);
    lanes_ = lanes;
    lane_cost_us_ = std::make_unique<std::atomic<chi::u64>[]>(lanes);
  }
  void MonitorCreate(chi::MonitorModeId, chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void MonitorDestroy(chi::MonitorModeId, chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}

  void Compress(chi::ipc::FullPtr<CompressTask> task, chi::RunContext &) {
    LaneLoad load(*this, *task, CostUs(*task, true));
    const char *in = Buffer(task->data_);
    char *out = Buffer(task->out_);
    if (!CheckBuffers(*task, in, out)) return;
    task->checksum_ = Crc32(in, task->data_size_);
    if (task->codec_ == Codec::kZstd) {
      size_t n = ZSTD_compressCCtx(ThreadCCtx(), out, task->out_capacity_, in, task->data_size_, task->level_);
      if (ZSTD_isError(n)) return Fail(*task, std::string("zstd: ") + ZSTD_getErrorName(n));
      task->out_size_ = n;
    } else if (task->codec_ == Codec::kZlib) {
      uLongf n = static_cast<uLongf>(task->out_capacity_);
      int rc = compress2(reinterpret_cast<Bytef *>(out), &n, reinterpret_cast<const Bytef *>(in),
                         static_cast<uLong>(task->data_size_), task->level_);
      if (rc != Z_OK) return Fail(*task, std::string("zlib: ") + zError(rc));
      task->out_size_ = n;
    } else {
      Fail(*task, "unknown codec " + std::to_string(static_cast<chi::u32>(task->codec_)));
    }
  }
  void MonitorCompress(chi::MonitorModeId mode, chi::ipc::FullPtr<CompressTask> task, chi::RunContext &rctx) {
    MonitorCodec(mode, *task, CostUs(*task, true), rctx);
  }

  void Decompress(chi::ipc::FullPtr<DecompressTask> task, chi::RunContext &) {
    LaneLoad load(*this, *task, CostUs(*task, false));
    const char *in = Buffer(task->data_);
    char *out = Buffer(task->out_);
    if (!CheckBuffers(*task, in, out)) return;
    if (task->codec_ == Codec::kZstd) {
      size_t n = ZSTD_decompressDCtx(ThreadDCtx(), out, task->out_capacity_, in, task->data_size_);
      if (ZSTD_isError(n)) return Fail(*task, std::string("zstd: corrupt input: ") + ZSTD_getErrorName(n));
      task->out_size_ = n;
    } else if (task->codec_ == Codec::kZlib) {
      uLongf n = static_cast<uLongf>(task->out_capacity_);
      int rc = uncompress(reinterpret_cast<Bytef *>(out), &n, reinterpret_cast<const Bytef *>(in),
                          static_cast<uLong>(task->data_size_));
      if (rc != Z_OK) return Fail(*task, std::string("zlib: corrupt input: ") + zError(rc));
      task->out_size_ = n;
    } else {
      return Fail(*task, "unknown codec " + std::to_string(static_cast<chi::u32>(task->codec_)));
    }
    task->checksum_ = Crc32(out, task->out_size_);
  }
  void MonitorDecompress(chi::MonitorModeId mode, chi::ipc::FullPtr<DecompressTask> task, chi::RunContext &rctx) {
    MonitorCodec(mode, *task, CostUs(*task, false), rctx);
  }

 private:
  static char *Buffer(chi::ipc::Pointer p) { return chi::ipc::FullPtr<char>(p).ptr_; }
  static void Fail(CodecTask &task, const std::string &msg) { task.SetError(chi::kTaskBadArgument, msg); }
  bool CheckBuffers(CodecTask &task, const char *in, const char *out) {
    if ((in == nullptr && task.data_size_ > 0) || (out == nullptr && task.out_capacity_ > 0)) {
      Fail(task, "compressor: input or output buffer is not in the runtime's shared memory");
      return false;
    }
    return true;
  }
  /** Estimated run time of a task in µs: compression runs at ~200 MB/s of
   * input, decompression at ~1 GB/s of output (zstd -3 on this kind of machine). */
  static chi::u64 CostUs(const CodecTask &task, bool compress) {
    return compress ? task.data_size_ / kEstBytesPerUs + 1 : task.out_capacity_ / (5 * kEstBytesPerUs) + 1;
  }
  chi::u32 LaneOf(const CodecTask &task) const { return task.dom_query_.GetSelector() % lanes_; }
  /** The estimated work routed to a lane and not finished yet, while a task runs. */
  struct LaneLoad {
    Runtime &rt;
    chi::u32 lane;
    chi::u64 cost;
    LaneLoad(Runtime &r, const CodecTask &t, chi::u64 c) : rt(r), lane(r.LaneOf(t)), cost(c) {}
    ~LaneLoad() { rt.lane_cost_us_[lane].fetch_sub(cost, std::memory_order_relaxed); }
  };
  /** The lane, among those of the worker with the least work routed to it and
   * not finished, with the least such work (lanes map to workers round-robin). */
  chi::u32 LeastLoadedLane() {
    std::array<chi::u64, 256> per_worker{};
    for (chi::u32 l = 0; l < lanes_; ++l)
      per_worker[GetLane(0, l)->Header().worker_id_ % 256] += lane_cost_us_[l].load(std::memory_order_relaxed);
    chi::u32 best = 0;
    for (chi::u32 l = 1; l < lanes_; ++l) {
      const chi::u64 wl = per_worker[GetLane(0, l)->Header().worker_id_ % 256],
                     wb = per_worker[GetLane(0, best)->Header().worker_id_ % 256];
      if (wl < wb || (wl == wb && lane_cost_us_[l].load(std::memory_order_relaxed) <
                                      lane_cost_us_[best].load(std::memory_order_relaxed)))
        best = l;
    }
    return best;
  }
  /** Where a Dynamic task of `cost_us` goes: the node with the least
   * estimated queued work: this node's exact figure (its containers'
   * QueuedWorkUs), a peer's from its last heartbeat plus this node's
   * requests to it not answered yet, each counted at this task's cost. A
   * peer wins only by more than one task's cost (sending costs too); within
   * this node, the least-loaded worker's lane. One node: no lookup at all. */
  chi::DomainQuery Place(chi::u64 cost_us) {
    chi::RemoteQueue *rq = CHI_RUNTIME->GetRemoteQueue();
    if (rq == nullptr || NumContainers() < 2) {
      if (HasLocalContainer()) return chi::DomainQuery::GetLocalHash(LeastLoadedLane());
      return chi::DomainQuery::GetDirectId(0);
    }
    chi::u32 best = kNoContainer;
    chi::u64 best_us = UINT64_MAX;
    if (HasLocalContainer()) {
      best = container_id_;
      best_us = CHI_RUNTIME->QueuedWorkUs();
    }
    for (chi::u32 c = 0; c < NumContainers(); ++c) {
      chi::u64 queued = 0, in_flight = 0;
      if (c == container_id_ || !rq->NodeLoad(container_nodes_[c], &queued, &in_flight)) continue;
      const chi::u64 us = queued + (in_flight + 1) * cost_us;
      if (us < best_us) {
        best = c;
        best_us = us;
      }
    }
    if (best == kNoContainer) return chi::DomainQuery::GetDirectHash(next_spread_++);  // no peer alive known
    if (best == container_id_) return chi::DomainQuery::GetLocalHash(LeastLoadedLane());
    return chi::DomainQuery::GetDirectId(best);
  }

  // A Dynamic task goes to the lane of the least-loaded worker
  // (Monitor(kGlobalSchedule) replaces its query, seeds 000/001); a hashed
  // one to the lane its hash picks, so a client can also spread work itself.
  // The estimate of every routed task counts against its lane until it ran.
  void MonitorCodec(chi::MonitorModeId mode, CodecTask &task, chi::u64 cost_us, chi::RunContext &rctx) {
    switch (mode) {
      case chi::MonitorModeId::kGlobalSchedule:
        if (task.dom_query_.IsDynamic()) task.dom_query_ = Place(cost_us);
        break;
      case chi::MonitorModeId::kLocalSchedule:
        rctx.route_lane_ = GetLane(0, LaneOf(task));
        lane_cost_us_[LaneOf(task)].fetch_add(cost_us, std::memory_order_relaxed);
        break;
      case chi::MonitorModeId::kEstLoad: rctx.load_.cpu_us_ = cost_us; break;
    }
  }

  chi::u64 QueuedWorkUs() const noexcept override {
    chi::u64 sum = 0;
    if (lane_cost_us_)
      for (chi::u32 l = 0; l < lanes_; ++l) sum += lane_cost_us_[l].load(std::memory_order_relaxed);
    return sum;
  }

  chi::u32 lanes_ = 1;
  std::unique_ptr<std::atomic<chi::u64>[]> lane_cost_us_;  // relaxed: a placement hint
  std::atomic<chi::u32> next_spread_{0};
};

}  // namespace chimaera::compressor

CHI_TASK_CC(chimaera::compressor::Runtime, "compressor");
