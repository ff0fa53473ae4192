// chimaera_compress_dir: the main job. Compresses then decompresses every
// regular file under a directory through a running Chimaera runtime (the
// compressor module) and verifies every byte, beside the same job done by
// one thread without the runtime and by the zstd command on a tar of the
// directory, all from a warm page cache; prints a table that says what each
// column includes (cpp/tools/main_job/).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "main_job/baselines.h"
#include "main_job/corpus.h"
#include "main_job/pipeline.h"

using chimaera::compressor::Codec;
namespace mj = chi::mainjob;

namespace {
const char *kUsage =
    "usage: chimaera_compress_dir DIR [--codec zstd|zlib] [--level N] [--in-flight N]\n"
    "                             [--port N] [--host H] [--no-baselines]\n"
    "\n"
    "The main job: every regular file under DIR, through the runtime's compressor\n"
    "module (files read straight into shared memory, N files in flight, default 16,\n"
    "each compressed, decompressed and verified: CRC-32 of input and output, and a\n"
    "byte comparison), then the same job on one thread without the runtime, then\n"
    "`zstd -T1` and `zstd -T2` on a tar of DIR (codec zstd, when installed). The\n"
    "corpus is read once before the timed runs: all of them read a warm page cache.\n"
    "Prints a table of files, bytes, ratio, time and MB/s, the speed ratios, and\n"
    "the tasks each runtime worker ran. Exit 1 if any round trip differs, 2 on\n"
    "usage errors.\n"
    "\n"
    "  --port N / --host H   the runtime (default $CHI_PORT / $CHI_HOST)\n"
    "  --spread dynamic|lanes  where tasks go: the compressor's least-loaded worker\n"
    "                        (Dynamic, the default), or lane = file index (round-robin)\n"
    "  --rounds N            run every column N times, in turn; report medians (default 3)\n"
    "  --no-baselines        only the runtime run\n";

void Row(const char *name, const std::vector<std::string> &cells) {
  std::printf("%-30s", name);
  for (const std::string &c : cells) std::printf(" %16s", c.c_str());
  std::printf("\n");
}
/** The run of median time (the first for an even count); an empty result
 * when there were none. */
template <typename R>
R Median(std::vector<R> runs) {
  if (runs.empty()) return R();
  std::vector<std::size_t> idx(runs.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return runs[a].seconds < runs[b].seconds; });
  return runs[idx[(idx.size() - 1) / 2]];
}

std::string Fmt(const char *fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}
}  // namespace

int main(int argc, char **argv) {
  std::string dir, codec_name = "zstd", host;
  int level = 3, in_flight = 16;
  chi::u16 port = 0;
  bool baselines = true;
  int rounds = 3;
  std::string spread = "dynamic";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--codec" && i + 1 < argc) codec_name = argv[++i];
    else if (a == "--level" && i + 1 < argc) level = std::atoi(argv[++i]);
    else if (a == "--in-flight" && i + 1 < argc) in_flight = std::atoi(argv[++i]);
    else if (a == "--port" && i + 1 < argc) port = static_cast<chi::u16>(std::atoi(argv[++i]));
    else if (a == "--host" && i + 1 < argc) host = argv[++i];
    else if (a == "--no-baselines") baselines = false;
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--spread" && i + 1 < argc) spread = argv[++i];
    else if (dir.empty() && a[0] != '-') dir = a;
    else {
      std::fprintf(stderr, "chimaera_compress_dir: bad argument '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (dir.empty() || in_flight < 1 || rounds < 1 || (codec_name != "zstd" && codec_name != "zlib") ||
      (spread != "dynamic" && spread != "lanes")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const Codec codec = codec_name == "zstd" ? Codec::kZstd : Codec::kZlib;

  mj::Corpus corpus;
  try {
    corpus = mj::Corpus::List(dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_compress_dir: %s\n", e.what());
    return 2;
  }
  if (corpus.files.empty()) {
    std::fprintf(stderr, "chimaera_compress_dir: no regular files under '%s'\n", dir.c_str());
    return 2;
  }
  std::fprintf(stderr, "corpus: %zu files, %.1f MB; warming the page cache\n", corpus.files.size(),
               static_cast<double>(corpus.total_bytes) / 1e6);
  corpus.Warm();

  // Rounds: each column once per round, in turn, so that the machine's
  // speed changes (this VM has fast and slow states) hit every column alike.
  std::vector<mj::PipelineResult> rts;
  std::vector<mj::RunResult> ones, z1s, z2s;
  try {
    CHI_IPC_MANAGER->ClientInitWait(port, 5000, host);  // a runtime still starting is retried for 5 s
    const chi::ipc::MemContext mctx;
    chimaera::compressor::Client zip;
    zip.Create(mctx, chi::DomainQuery::GetLocalHash(0), "compress_dir_" + std::to_string(getpid()));
    mj::PipelineOptions opt;
    opt.codec = codec;
    opt.level = level;
    opt.in_flight = in_flight;
    // dynamic: the compressor puts each task on its least-loaded worker's
    // lane; lanes: file i goes to lane i % lanes (round-robin by index).
    if (spread == "dynamic")
      opt.place = [](std::size_t) { return mj::Placement{chi::DomainQuery::GetDynamic(), 0}; };
    else
      opt.place = [](std::size_t i) { return mj::Placement{chi::DomainQuery::GetLocalHash(static_cast<chi::u32>(i)), 0}; };
    for (int round = 0; round < rounds; ++round) {
      opt.progress = round == 0;
      rts.push_back(mj::RunPipeline(corpus, zip, opt));
      if (!baselines) continue;
      ones.push_back(mj::OneThread(corpus, codec, level));
      if (codec == Codec::kZstd) {
        z1s.push_back(mj::ZstdCli(dir, 1, level));
        z2s.push_back(mj::ZstdCli(dir, 2, level));
      }
    }
    zip.Destroy(mctx, chi::DomainQuery::GetLocalHash(0));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_compress_dir: %s\n", e.what());
    return 1;
  }
  mj::PipelineResult rt = Median(rts);
  mj::RunResult one = Median(ones), z1 = Median(z1s), z2 = Median(z2s);
  if (baselines && codec != Codec::kZstd) z1.why_not = z2.why_not = "codec zlib";

  const std::vector<const mj::RunResult *> cols = {&rt, &one, &z1, &z2};
  auto cells = [&](auto fn) {
    std::vector<std::string> out;
    for (const mj::RunResult *c : cols) out.push_back(c->ran ? fn(*c) : std::string("-"));
    return out;
  };
  std::printf("\n");
  Row("", {"Chimaera runtime", "1 thread", "zstd -T1 (tar)", "zstd -T2 (tar)"});
  Row("includes", {"read+c+d+verify", "read+c+d+verify", "c+d of one tar", "c+d of one tar"});
  Row("files (verified / skipped)", cells([](const mj::RunResult &c) {
        return std::to_string(c.files) + " / " + std::to_string(c.skipped);
      }));
  Row("bytes in (MB)", cells([](const mj::RunResult &c) { return Fmt("%.1f", c.bytes_in / 1e6); }));
  Row("bytes out (MB)", cells([](const mj::RunResult &c) { return Fmt("%.1f", c.bytes_out / 1e6); }));
  Row("ratio", cells([](const mj::RunResult &c) { return Fmt("%.2f", c.bytes_out ? c.bytes_in / c.bytes_out : 0); }));
  Row("wall time (s)", cells([](const mj::RunResult &c) { return Fmt("%.2f", c.seconds); }));
  Row("MB/s (bytes in / wall time)", cells([](const mj::RunResult &c) { return Fmt("%.1f", c.MBps()); }));
  std::printf("c+d = compress then decompress; read+c+d+verify = each file read from the (warm) page cache,\n"
              "compressed, decompressed and checked (CRC-32 both ways + byte comparison). codec %s level %d,\n"
              "%d files in flight, %zu runtime workers, tasks spread: %s.\n",
              codec_name.c_str(), level, in_flight, rt.tasks_per_worker.size(), spread.c_str());
  std::string per_worker;
  for (std::size_t w = 0; w < rt.tasks_per_worker.size(); ++w)
    per_worker += (w ? ", " : "") + std::to_string(rt.tasks_per_worker[w]);
  std::printf("tasks per worker: %s\n", per_worker.c_str());
  std::printf("medians of %d rounds (each round runs every column once, in turn)\n", rounds);
  if (one.ran) {
    std::string per_round;
    for (std::size_t r = 0; r < rts.size() && r < ones.size(); ++r)
      per_round += Fmt(r ? ", %.2f" : "%.2f", rts[r].MBps() / ones[r].MBps());
    std::printf("runtime / 1 thread: %.2fx (per round: %s)", rt.MBps() / one.MBps(), per_round.c_str());
  }
  if (z2.ran) std::printf("   runtime / zstd -T2: %.2fx", rt.MBps() / z2.MBps());
  if (one.ran || z2.ran) std::printf("\n");
  for (const mj::RunResult *z : {&z1, &z2})
    if (baselines && !z->ran && !z->why_not.empty()) std::printf("zstd column skipped: %s\n", z->why_not.c_str());
  if (rt.mismatches || one.mismatches) {
    std::fprintf(stderr, "%zu round trips differed\n", rt.mismatches + one.mismatches);
    return 1;
  }
  return 0;
}
