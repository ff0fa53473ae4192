#pragma once
/**
 * @file baselines.h
 * What the main job compares the runtime with, on the same files:
 *  - OneThread: one thread doing the whole job end to end, as the runtime
 *    path does it: read each file (pread into a buffer), compress it,
 *    decompress it, verify it (CRC-32 of the input and of the output, and a
 *    byte comparison), with the same codec and level.
 *  - ZstdCli: the `zstd` command (Debian's) with -T<threads> on one tar of
 *    the directory, compress then decompress: an external anchor (one long
 *    stream compresses better and has no per-file cost; decompression is
 *    single-threaded in zstd). The tar is written before the timing.
 * Thread-safety: run one at a time (they time the machine).
 */
#include <string>

#include "compressor/compressor_tasks.h"
#include "corpus.h"

namespace chi::mainjob {

struct RunResult {
  bool ran = false;
  std::string why_not;   /**< when !ran: e.g. "zstd not installed" */
  double seconds = 0;
  std::size_t files = 0, skipped = 0, mismatches = 0;
  double bytes_in = 0, bytes_out = 0;
  double MBps() const { return seconds > 0 ? bytes_in / 1e6 / seconds : 0; }
};

RunResult OneThread(const Corpus &corpus, chimaera::compressor::Codec codec, int level);
RunResult ZstdCli(const std::string &dir, int threads, int level);

/** CRC-32 (zlib's values) of `n` bytes, with the compressor module's
 * implementation (ISA-L). */
unsigned Crc32(const char *p, std::size_t n);

}  // namespace chi::mainjob
