/** @file baselines.cc  The main job's baselines (baselines.h). */
#include "baselines.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstring>
#include <vector>

namespace chi::mainjob {
namespace {
using Clock = std::chrono::steady_clock;
using chimaera::compressor::Codec;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/** Run argv with stdout to `out_path` ("" = inherit); its exit status, or -1. */
int Run(const std::vector<std::string> &argv, const std::string &out_path) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!out_path.empty()) {
      FILE *f = std::freopen(out_path.c_str(), "wb", stdout);
      if (f == nullptr) _exit(126);
    }
    std::vector<char *> args;
    for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::size_t FileSize(const std::string &p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}
}  // namespace

unsigned Crc32(const char *p, std::size_t n) {
  unsigned crc = 0;
  while (n > 0) {  // the compressor module's function (ISA-L), so both sides do the same work
    const std::size_t chunk = std::min<std::size_t>(n, 1u << 30);
    crc = crc32_gzip_refl(crc, reinterpret_cast<const unsigned char *>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return crc;
}

RunResult OneThread(const Corpus &corpus, Codec codec, int level) {
  RunResult r;
  r.ran = true;
  std::vector<char> in, packed, restored;
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  const auto t0 = Clock::now();
  for (const CorpusFile &f : corpus.files) {
    in.resize(std::max<std::size_t>(f.size, 1));
    const long got = ReadInto(f.path, in.data(), f.size);
    if (got < 0) {
      ++r.skipped;
      continue;
    }
    const std::size_t n = static_cast<std::size_t>(got);
    const std::size_t cap = chimaera::compressor::CompressBound(codec, n);
    packed.resize(std::max<std::size_t>(cap, 1));
    restored.resize(std::max<std::size_t>(n, 1));
    const unsigned crc_in = Crc32(in.data(), n);
    std::size_t packed_size = 0, restored_size = 0;
    if (codec == Codec::kZstd) {
      packed_size = ZSTD_compressCCtx(cctx, packed.data(), cap, in.data(), n, level);
      restored_size = ZSTD_decompressDCtx(dctx, restored.data(), n, packed.data(), packed_size);
      if (ZSTD_isError(packed_size) || ZSTD_isError(restored_size)) packed_size = restored_size = 0;
    } else {
      uLongf pn = static_cast<uLongf>(cap), rn = static_cast<uLongf>(n);
      compress2(reinterpret_cast<Bytef *>(packed.data()), &pn, reinterpret_cast<const Bytef *>(in.data()), n, level);
      uncompress(reinterpret_cast<Bytef *>(restored.data()), &rn, reinterpret_cast<const Bytef *>(packed.data()), pn);
      packed_size = pn;
      restored_size = rn;
    }
    const unsigned crc_out = Crc32(restored.data(), restored_size);
    const bool same = restored_size == n && crc_out == crc_in && std::memcmp(in.data(), restored.data(), n) == 0;
    r.mismatches += !same;
    r.files += same;
    r.bytes_in += static_cast<double>(n);
    r.bytes_out += static_cast<double>(packed_size);
  }
  r.seconds = Since(t0);
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
  return r;
}

RunResult ZstdCli(const std::string &dir, int threads, int level) {
  RunResult r;
  const char *tmp = std::getenv("TMPDIR");
  const std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/chi_mainjob_" + std::to_string(getpid());
  const std::string tar = base + ".tar", zst = base + ".tar.zst";
  if (Run({"tar", "-cf", tar, "-C", dir, "."}, "") != 0) {
    r.why_not = "tar failed";
    unlink(tar.c_str());
    return r;
  }
  // Warm: the tar was just written (page cache); read it once more to be sure.
  Run({"cat", tar}, "/dev/null");
  const auto t0 = Clock::now();
  const int c = Run({"zstd", "-q", "-f", "-" + std::to_string(level), "-T" + std::to_string(threads), "-c", tar}, zst);
  const int d = c == 0 ? Run({"zstd", "-q", "-d", "-c", zst}, "/dev/null") : -1;
  r.seconds = Since(t0);
  if (c == 127 || c == 126) r.why_not = "the zstd command is not installed (Debian package zstd)";
  else if (c != 0 || d != 0) r.why_not = "zstd failed";
  else r.ran = true;
  r.files = 1;
  r.bytes_in = static_cast<double>(FileSize(tar));
  r.bytes_out = static_cast<double>(FileSize(zst));
  unlink(tar.c_str());
  unlink(zst.c_str());
  return r;
}

}  // namespace chi::mainjob
