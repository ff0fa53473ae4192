// chimaera_compress_dir: the main job. Compresses then decompresses every
// regular file under a directory through a running Chimaera runtime (the
// compressor module), several files in flight, verifying every round trip
// byte for byte; then compresses the same corpus on one thread without the
// runtime, and prints a table comparing the two. Unreadable files are
// reported and skipped.
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compressor/compressor_client.h"

namespace fs = std::filesystem;
using chimaera::compressor::Codec;
using Clock = std::chrono::steady_clock;

namespace {
const char *kUsage =
    "usage: chimaera_compress_dir DIR [--codec zstd|zlib] [--level N] [--in-flight N] [--port N]\n"
    "Compress and decompress every regular file under DIR through the runtime's\n"
    "compressor module (N files in flight, default 16), verify each round trip\n"
    "byte for byte, then do the same on one thread without the runtime, and\n"
    "print a comparison table. Exit 1 if any round trip differs.\n";

struct Job {
  fs::path path;
  std::size_t size = 0;
  chi::ipc::Pointer in, packed, restored;
  chi::u64 cap = 0, packed_size = 0;
  chi::ipc::FullPtr<chimaera::compressor::CompressTask> ctask;
  chi::ipc::FullPtr<chimaera::compressor::DecompressTask> dtask;
};

bool ReadFile(const fs::path &p, std::string *out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

void Progress(std::size_t done, std::size_t total, double mb, double secs, bool tty, int *last_decile) {
  int pct = total ? static_cast<int>(100.0 * done / total) : 100;
  if (tty) {
    int bar = pct / 4;
    std::fprintf(stderr, "\r[%.*s%*s] %3d%% %zu/%zu files %.1f MB %.0f MB/s", bar,
                 "#########################", 25 - bar, "", pct, done, total, mb, secs > 0 ? mb / secs : 0.0);
    if (done == total) std::fputc('\n', stderr);
  } else if (pct / 10 > *last_decile || done == total) {  // logs: a line per 10%
    *last_decile = pct / 10;
    std::fprintf(stderr, "progress: %3d%% %zu/%zu files %.1f MB\n", pct, done, total, mb);
  }
}
}  // namespace

int main(int argc, char **argv) {
  std::string dir, codec_name = "zstd";
  int level = 3, in_flight = 16;
  chi::u16 port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") { std::fputs(kUsage, stdout); return 0; }
    if (a == "--codec" && i + 1 < argc) codec_name = argv[++i];
    else if (a == "--level" && i + 1 < argc) level = std::atoi(argv[++i]);
    else if (a == "--in-flight" && i + 1 < argc) in_flight = std::atoi(argv[++i]);
    else if (a == "--port" && i + 1 < argc) port = static_cast<chi::u16>(std::atoi(argv[++i]));
    else if (dir.empty() && a[0] != '-') dir = a;
    else { std::fprintf(stderr, "chimaera_compress_dir: bad argument '%s'\n%s", a.c_str(), kUsage); return 2; }
  }
  if (dir.empty() || in_flight < 1 || (codec_name != "zstd" && codec_name != "zlib")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const Codec codec = codec_name == "zstd" ? Codec::kZstd : Codec::kZlib;

  // Collect the corpus; unreadable entries are reported and skipped.
  std::vector<fs::path> files;
  std::size_t skipped = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec) && !it->is_symlink(fec)) files.push_back(it->path());
  }
  if (ec) std::fprintf(stderr, "warning: %s: %s (continuing with %zu files)\n", dir.c_str(), ec.message().c_str(), files.size());
  if (files.empty()) {
    std::fprintf(stderr, "chimaera_compress_dir: no regular files under '%s'\n", dir.c_str());
    return 2;
  }

  try {
    CHI_IPC_MANAGER->ClientInitWait(port, 5000);  // a runtime still starting is retried for 5 s
    auto *ipc = CHI_IPC_MANAGER;
    auto &alloc = ipc->GetAllocator();
    const chi::ipc::MemContext mctx;
    chimaera::compressor::Client zip;
    zip.Create(mctx, chi::DomainQuery::GetDynamic(), "compress_dir_" + std::to_string(getpid()));

    const bool tty = isatty(2);
    // Two stages share the in-flight budget: `compressing` jobs wait for
    // their Compress task; `decompressing` jobs for their Decompress task.
    std::deque<Job> compressing, decompressing;
    std::size_t next = 0, done = 0, mismatches = 0, verified_files = 0;
    double bytes_in = 0, bytes_out = 0;
    int decile = -1;
    std::vector<std::string> corpus;  // kept for the single-thread baseline
    corpus.reserve(files.size());
    auto t0 = Clock::now();
    std::string content;
    auto in_flight_now = [&] { return compressing.size() + decompressing.size(); };
    while (done + skipped < files.size()) {
      // Fill the budget with new Compress tasks.
      while (next < files.size() && in_flight_now() < static_cast<std::size_t>(in_flight)) {
        const fs::path &p = files[next++];
        if (!ReadFile(p, &content)) {
          std::fprintf(stderr, "%sskipped %s: cannot read\n", tty ? "\n" : "", p.c_str());
          ++skipped;
          continue;
        }
        Job j;
        j.path = p;
        j.size = content.size();
        j.cap = chimaera::compressor::CompressBound(codec, j.size);
        j.in = alloc.Allocate(j.size);
        j.packed = alloc.Allocate(j.cap);
        j.restored = alloc.Allocate(j.size);
        if (j.in.IsNull() || j.packed.IsNull() || j.restored.IsNull()) {
          alloc.Free(j.in), alloc.Free(j.packed), alloc.Free(j.restored);
          if (in_flight_now() == 0) {
            std::fprintf(stderr, "skipped %s: %zu bytes do not fit in shared memory\n", p.c_str(), j.size);
            ++skipped;
            continue;
          }
          --next;  // retry once in-flight work frees memory
          break;
        }
        if (j.size) std::memcpy(alloc.Convert(j.in), content.data(), j.size);
        corpus.push_back(std::move(content));
        j.ctask = zip.AsyncCompress(mctx, chi::DomainQuery::GetLocalHash(static_cast<chi::u32>(next)), codec, level,
                                    j.in, j.size, j.packed, j.cap);
        compressing.push_back(std::move(j));
      }
      // Advance a compressed job to Decompress when one is ready (or when no
      // decompression is pending); otherwise retire the oldest Decompress.
      if (!compressing.empty() && (decompressing.empty() || compressing.front().ctask->IsComplete())) {
        Job j = std::move(compressing.front());
        compressing.pop_front();
        j.ctask->Wait();
        j.ctask->ThrowIfError();
        j.packed_size = j.ctask->out_size_;
        j.dtask = zip.AsyncDecompress(mctx, chi::DomainQuery::GetLocalHash(static_cast<chi::u32>(next + done)), codec,
                                      j.packed, j.packed_size, j.restored, j.size);
        decompressing.push_back(std::move(j));
        continue;
      }
      if (decompressing.empty()) continue;
      Job &j = decompressing.front();
      j.dtask->Wait();
      j.dtask->ThrowIfError();
      bool same = j.dtask->out_size_ == j.size && j.dtask->checksum_ == j.ctask->checksum_ &&
                  std::memcmp(alloc.Convert(j.in), alloc.Convert(j.restored), j.size) == 0;
      if (!same) {
        ++mismatches;
        std::fprintf(stderr, "MISMATCH %s\n", j.path.c_str());
      } else {
        ++verified_files;
      }
      ipc->DelTask(j.ctask);
      ipc->DelTask(j.dtask);
      bytes_in += static_cast<double>(j.size);
      bytes_out += static_cast<double>(j.packed_size);
      alloc.Free(j.in), alloc.Free(j.packed), alloc.Free(j.restored);
      decompressing.pop_front();
      ++done;
      Progress(done + skipped, files.size(), bytes_in / 1e6,
               std::chrono::duration<double>(Clock::now() - t0).count(), tty, &decile);
    }
    double runtime_s = std::chrono::duration<double>(Clock::now() - t0).count();
    zip.Destroy(mctx, chi::DomainQuery::GetDynamic());

    // Baseline: the same corpus, compressed and decompressed on one thread.
    auto b0 = Clock::now();
    double base_out = 0;
    std::string packed, restored;
    for (const std::string &c : corpus) {
      std::size_t cap = chimaera::compressor::CompressBound(codec, c.size());
      packed.resize(cap);
      restored.resize(c.size());
      if (codec == Codec::kZstd) {
        std::size_t n = ZSTD_compress(packed.data(), cap, c.data(), c.size(), level);
        ZSTD_decompress(restored.data(), c.size(), packed.data(), n);
        base_out += static_cast<double>(n);
      } else {
        uLongf n = static_cast<uLongf>(cap), m = static_cast<uLongf>(c.size());
        compress2(reinterpret_cast<Bytef *>(packed.data()), &n, reinterpret_cast<const Bytef *>(c.data()), c.size(), level);
        uncompress(reinterpret_cast<Bytef *>(restored.data()), &m, reinterpret_cast<const Bytef *>(packed.data()), n);
        base_out += static_cast<double>(n);
      }
    }
    double base_s = std::chrono::duration<double>(Clock::now() - b0).count();

    std::printf("\n%-34s %16s %16s\n", "", "Chimaera runtime", "1 thread, no rt");
    std::printf("%-34s %16zu %16zu\n", "files (verified / skipped)", verified_files, skipped);
    std::printf("%-34s %16.1f %16.1f\n", "bytes in (MB)", bytes_in / 1e6, bytes_in / 1e6);
    std::printf("%-34s %16.1f %16.1f\n", "bytes out (MB)", bytes_out / 1e6, base_out / 1e6);
    std::printf("%-34s %16.2f %16.2f\n", "ratio", bytes_out ? bytes_in / bytes_out : 0, base_out ? bytes_in / base_out : 0);
    std::printf("%-34s %16.2f %16.2f\n", "wall time (s)", runtime_s, base_s);
    std::printf("%-34s %16.1f %16.1f\n", "throughput, compress+decompress (MB/s)", bytes_in / 1e6 / runtime_s,
                bytes_in / 1e6 / base_s);
    std::printf("codec %s level %d, %d files in flight, %u runtime workers; runtime/baseline speed %.2fx\n",
                codec_name.c_str(), level, in_flight, ipc->Shared().num_workers_, base_s / runtime_s);
    if (mismatches) {
      std::fprintf(stderr, "%zu round trips differed\n", mismatches);
      return 1;
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_compress_dir: %s\n", e.what());
    return 1;
  }
  return 0;
}
