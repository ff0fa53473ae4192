// chimaera_compress_dir: the main job. Compresses then decompresses every
// regular file under a directory through a running Chimaera runtime (the
// compressor module) and verifies every byte, beside the same job done by
// one thread without the runtime and by the zstd command on a tar of the
// directory, all from a warm page cache; prints a table that says what each
// column includes (cpp/tools/main_job/).
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_client.h"
#include "main_job/baselines.h"
#include "main_job/corpus.h"
#include "main_job/pipeline.h"
#include "remote_queue/remote_queue_client.h"

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
    "  --spread dynamic|lanes|hash  where tasks go: the compressor's least-loaded\n"
    "                        worker and node (Dynamic, the default), lane = file index\n"
    "                        (round-robin), or the container GetDirectHash of the path\n"
    "                        picks (same file, same node)\n"
    "On a node of a cluster the pool spans every node (the client waits up to 15 s\n"
    "for all to be alive); the table then gains a column with a pool on the\n"
    "attached node only, and the files and MB each node handled.\n"
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

/** On a node of a cluster: wait (up to 15 s) until every node is alive;
 * returns the number of nodes (1: a single-node runtime). Throws
 * std::runtime_error naming the nodes still down. */
std::size_t WaitForCluster() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (true) {
    std::vector<chimaera::remote_queue::PeerInfo> peers;
    try {
      peers = chimaera::remote_queue::Client().Peers();
    } catch (const chi::TaskError &e) {
      if (e.Code() == chi::kTaskUnknownPool) return 1;  // a single-node runtime has no remote queue
      throw;
    }
    std::string down;
    for (const auto &p : peers)
      if (p.state != "alive" && p.state != "self") down += (down.empty() ? "" : ", ") + p.address + " (" + p.state + ")";
    if (down.empty()) return peers.empty() ? 1 : peers.size();
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("nodes not alive after 15 s: " + down);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/** The node of each container of `pool`. */
std::vector<chi::u32> PoolNodes(chi::PoolId pool) {
  for (const auto &p : chimaera::admin::Client().ListPools(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0)))
    if (p.id == pool) return p.nodes;
  throw std::runtime_error("the pool " + pool.ToString() + " is not listed");
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
      (spread != "dynamic" && spread != "lanes" && spread != "hash")) {
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
  std::vector<mj::PipelineResult> rts, locals;
  std::size_t num_nodes = 1;
  std::vector<mj::RunResult> ones, z1s, z2s;
  try {
    CHI_IPC_MANAGER->ClientInitWait(port, 5000, host);  // a runtime still starting is retried for 5 s
    const chi::ipc::MemContext mctx;
    num_nodes = WaitForCluster();
    chimaera::compressor::Client zip, local;
    // The pool spans every node of a cluster (container k on node k).
    zip.Create(mctx, chi::DomainQuery::GetLocalHash(0), "compress_dir_" + std::to_string(getpid()));
    if (num_nodes > 1)  // the single-node column: a pool on the attached node only
      local.pool_id_ = chimaera::admin::Client().CreatePool(mctx, chi::DomainQuery::GetLocalHash(0),
                                                            "compress_dir_local_" + std::to_string(getpid()),
                                                            "compressor", "", chi::PoolId(),
                                                            {CHI_IPC_MANAGER->Shared().node_id_});
    mj::PipelineOptions opt;
    opt.codec = codec;
    opt.level = level;
    opt.in_flight = in_flight;
    // dynamic: the compressor puts each task on its least-loaded worker's
    // lane; lanes: file i goes to lane i % lanes (round-robin by index).
    // hash: file i to container crc(path) % containers, counted under its node.
    const std::vector<chi::u32> nodes = PoolNodes(zip.pool_id_);
    if (spread == "dynamic")
      opt.place = [](std::size_t) { return mj::Placement{chi::DomainQuery::GetDynamic(), -1}; };
    else if (spread == "lanes")
      opt.place = [](std::size_t i) { return mj::Placement{chi::DomainQuery::GetLocalHash(static_cast<chi::u32>(i)), -1}; };
    else
      opt.place = [&](std::size_t i) {
        const chi::u32 h = static_cast<chi::u32>(
            crc32(0, reinterpret_cast<const Bytef *>(corpus.files[i].path.data()), static_cast<uInt>(corpus.files[i].path.size())));
        return mj::Placement{chi::DomainQuery::GetDirectHash(h), static_cast<int>(nodes[h % nodes.size()])};
      };
    for (int round = 0; round < rounds; ++round) {
      opt.progress = round == 0;
      rts.push_back(mj::RunPipeline(corpus, zip, opt));
      if (num_nodes > 1) {
        mj::PipelineOptions one_node = opt;
        one_node.progress = false;
        one_node.place = [](std::size_t) { return mj::Placement{chi::DomainQuery::GetDynamic(), -1}; };
        locals.push_back(mj::RunPipeline(corpus, local, one_node));
      }
      if (!baselines) continue;
      ones.push_back(mj::OneThread(corpus, codec, level));
      if (codec == Codec::kZstd) {
        z1s.push_back(mj::ZstdCli(dir, 1, level));
        z2s.push_back(mj::ZstdCli(dir, 2, level));
      }
    }
    zip.Destroy(mctx, chi::DomainQuery::GetLocalHash(0));
    if (num_nodes > 1) local.Destroy(mctx, chi::DomainQuery::GetLocalHash(0));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_compress_dir: %s\n", e.what());
    return 1;
  }
  mj::PipelineResult rt = Median(rts), rt_local = Median(locals);
  mj::RunResult one = Median(ones), z1 = Median(z1s), z2 = Median(z2s);
  if (baselines && codec != Codec::kZstd) z1.why_not = z2.why_not = "codec zlib";

  std::vector<const mj::RunResult *> cols = {&rt, &one, &z1, &z2};
  std::vector<std::string> names = {num_nodes > 1 ? "Chimaera " + std::to_string(num_nodes) + " nodes" : "Chimaera runtime",
                                    "1 thread", "zstd -T1 (tar)", "zstd -T2 (tar)"},
                           includes = {"read+c+d+verify", "read+c+d+verify", "c+d of one tar", "c+d of one tar"};
  if (num_nodes > 1) {
    cols.insert(cols.begin() + 1, &rt_local);
    names.insert(names.begin() + 1, "Chimaera 1 node");
    includes.insert(includes.begin() + 1, "read+c+d+verify");
  }
  auto cells = [&](auto fn) {
    std::vector<std::string> out;
    for (const mj::RunResult *c : cols) out.push_back(c->ran ? fn(*c) : std::string("-"));
    return out;
  };
  std::printf("\n");
  Row("", names);
  Row("includes", includes);
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
  std::printf("tasks per worker (attached node): %s\n", per_worker.c_str());
  for (const auto &[label, share] : rt.per_label)
    if (label >= 0) std::printf("node %d: %zu files, %.1f MB\n", label, share.files, share.bytes / 1e6);
  if (num_nodes > 1 && rt_local.ran)
    std::printf("%zu nodes / 1 node: %.2fx (this machine has 2 cores: the figure shows overhead, not scaling)\n",
                num_nodes, rt.MBps() / rt_local.MBps());
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
  if (rt.mismatches || one.mismatches || rt_local.mismatches) {
    std::fprintf(stderr, "%zu round trips differed\n", rt.mismatches + one.mismatches + rt_local.mismatches);
    return 1;
  }
  return 0;
}
