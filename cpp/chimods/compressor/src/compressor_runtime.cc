// Runtime of the compressor module: zstd / zlib on caller buffers in shared
// memory. Each lane may run on its own worker; the codec contexts are
// per call, so Compress/Decompress are safe to run concurrently.
#include <zlib.h>
#include <zstd.h>

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

chi::u32 Crc32(const char *p, chi::u64 n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {  // zlib takes uInt lengths
    uInt chunk = static_cast<uInt>(std::min<chi::u64>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef *>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<chi::u32>(crc);
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
  }
  void MonitorCreate(chi::MonitorModeId, chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}
  void MonitorDestroy(chi::MonitorModeId, chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}

  void Compress(chi::ipc::FullPtr<CompressTask> task, chi::RunContext &) {
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
    MonitorCodec(mode, *task, rctx);
  }

  void Decompress(chi::ipc::FullPtr<DecompressTask> task, chi::RunContext &) {
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
    MonitorCodec(mode, *task, rctx);
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
  // Route by the DomainQuery's hash, so a client spreads work over lanes
  // (and so over workers); estimate load from the input size (seed 003).
  void MonitorCodec(chi::MonitorModeId mode, CodecTask &task, chi::RunContext &rctx) {
    switch (mode) {
      case chi::MonitorModeId::kLocalSchedule: rctx.route_lane_ = GetLaneByHash(0, task.dom_query_.GetSelector()); break;
      case chi::MonitorModeId::kGlobalSchedule: break;
      case chi::MonitorModeId::kEstLoad: rctx.load_.cpu_us_ = task.data_size_ / kEstBytesPerUs + 1; break;
    }
  }
};

}  // namespace chimaera::compressor

CHI_TASK_CC(chimaera::compressor::Runtime, "compressor");
