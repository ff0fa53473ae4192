/** @file pipeline.cc  The main job through the runtime (pipeline.h). */
#include "pipeline.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>

namespace chi::mainjob {
namespace {
using Clock = std::chrono::steady_clock;
using chimaera::compressor::CompressTask;
using chimaera::compressor::DecompressTask;

struct Job {
  std::size_t file = 0;
  std::size_t size = 0;
  u64 cap = 0;
  ipc::Pointer in, packed, restored;
  Placement where;
  ipc::FullPtr<CompressTask> ctask;
  ipc::FullPtr<DecompressTask> dtask;
  bool active = false;
};

class Progress {
 public:
  Progress(std::size_t total, bool on) : total_(total), on_(on), tty_(isatty(2)), t0_(Clock::now()) {}
  void Update(std::size_t done, double mb) {
    if (!on_) return;
    const int pct = total_ ? static_cast<int>(100.0 * done / total_) : 100;
    const double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
    if (tty_) {
      const int bar = pct / 4;
      std::fprintf(stderr, "\r[%.*s%*s] %3d%% %zu/%zu files %.1f MB %.0f MB/s", bar, "#########################",
                   25 - bar, "", pct, done, total_, mb, secs > 0 ? mb / secs : 0.0);
      if (done == total_) std::fputc('\n', stderr);
    } else if (pct / 10 > decile_ || done == total_) {  // logs: a line per 10 %
      decile_ = pct / 10;
      std::fprintf(stderr, "progress: %3d%% %zu/%zu files %.1f MB\n", pct, done, total_, mb);
    }
  }

 private:
  std::size_t total_;
  bool on_, tty_;
  Clock::time_point t0_;
  int decile_ = -1;
};
}  // namespace

PipelineResult RunPipeline(const Corpus &corpus, chimaera::compressor::Client &zip, const PipelineOptions &opt) {
  auto *ipc = CHI_IPC_MANAGER;
  auto &alloc = ipc->GetAllocator();
  const ipc::MemContext mctx;
  PipelineResult r;
  r.ran = true;
  const u32 nworkers = ipc->Shared().num_workers_;
  std::vector<u64> before(nworkers);
  for (u32 w = 0; w < nworkers; ++w) before[w] = ipc->Workers()[w].tasks_completed_.load();

  std::vector<Job> slots(static_cast<std::size_t>(opt.in_flight));
  std::deque<std::size_t> order;  // active slots, oldest submission first
  std::size_t next = 0, finished = 0;
  Progress progress(corpus.files.size(), opt.progress);
  const auto t0 = Clock::now();

  auto release = [&](Job &j) {
    alloc.Free(j.in), alloc.Free(j.packed), alloc.Free(j.restored);
    if (!j.ctask.IsNull()) ipc->DelTask(j.ctask);
    if (!j.dtask.IsNull()) ipc->DelTask(j.dtask);
    j = Job();
  };
  // Start the next file in `j`; false when shared memory is short (retry
  // once in-flight work freed some).
  auto start = [&](Job &j) -> bool {
    const CorpusFile &f = corpus.files[next];
    j.file = next;
    j.cap = chimaera::compressor::CompressBound(opt.codec, f.size);
    j.in = alloc.Allocate(std::max<std::size_t>(f.size, 1));
    j.packed = alloc.Allocate(std::max<u64>(j.cap, 1));
    j.restored = alloc.Allocate(std::max<std::size_t>(f.size, 1));
    if (j.in.IsNull() || j.packed.IsNull() || j.restored.IsNull()) {
      release(j);
      if (!order.empty()) return false;
      std::fprintf(stderr, "skipped %s: %zu bytes do not fit in shared memory\n", f.path.c_str(), f.size);
      ++r.skipped, ++next, ++finished;
      return true;
    }
    const long got = ReadInto(f.path, alloc.Convert<char>(j.in), f.size);  // straight into shared memory
    ++next;
    if (got < 0) {
      std::fprintf(stderr, "skipped %s: cannot read\n", f.path.c_str());
      release(j);
      ++r.skipped, ++finished;
      return true;
    }
    j.size = static_cast<std::size_t>(got);
    j.where = opt.place(j.file);
    j.ctask = zip.AsyncCompress(mctx, j.where.query, opt.codec, opt.level, j.in, j.size, j.packed, j.cap);
    j.active = true;
    return true;
  };

  while (finished < corpus.files.size()) {
    for (std::size_t s = 0; s < slots.size() && next < corpus.files.size(); ++s) {
      if (slots[s].active) continue;
      if (!start(slots[s])) break;
      if (slots[s].active) order.push_back(s);
    }
    // Advance every job whose task completed; block only when none did.
    bool progressed = false;
    for (std::size_t i = 0; i < order.size();) {
      Job &j = slots[order[i]];
      if (j.dtask.IsNull()) {
        if (!j.ctask->IsComplete()) {
          ++i;
          continue;
        }
        j.ctask->ThrowIfError();
        j.dtask = zip.AsyncDecompress(mctx, j.where.query, opt.codec, j.packed, j.ctask->out_size_, j.restored, j.size);
        progressed = true;
        ++i;
        continue;
      }
      if (!j.dtask->IsComplete()) {
        ++i;
        continue;
      }
      j.dtask->ThrowIfError();
      const bool same = j.dtask->out_size_ == j.size && j.dtask->checksum_ == j.ctask->checksum_ &&
                        std::memcmp(alloc.Convert(j.in), alloc.Convert(j.restored), j.size) == 0;
      if (!same) {
        ++r.mismatches;
        std::fprintf(stderr, "MISMATCH %s\n", corpus.files[j.file].path.c_str());
      } else {
        ++r.files;
      }
      r.bytes_in += static_cast<double>(j.size);
      r.bytes_out += static_cast<double>(j.ctask->out_size_);
      auto &share = r.per_label[j.where.label];
      ++share.files;
      share.bytes += static_cast<double>(j.size);
      release(j);
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(i));
      ++finished;
      progressed = true;
      progress.Update(finished, r.bytes_in / 1e6);
    }
    if (!progressed && !order.empty()) {
      // Nothing ready: park on the oldest job's pending task (futex), not a poll loop.
      Job &j = slots[order.front()];
      if (j.dtask.IsNull()) j.ctask->Wait();
      else j.dtask->Wait();
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (u32 w = 0; w < nworkers; ++w) r.tasks_per_worker.push_back(ipc->Workers()[w].tasks_completed_.load() - before[w]);
  return r;
}

}  // namespace chi::mainjob
