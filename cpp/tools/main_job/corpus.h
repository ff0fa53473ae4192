#pragma once
/**
 * @file corpus.h
 * The main job's input: every regular file under a directory (sorted, so
 * runs are comparable), read straight into a caller's buffer with pread.
 * Thread-safety: a Corpus is built once, then read-only.
 */
#include <cstddef>
#include <string>
#include <vector>

namespace chi::mainjob {

struct CorpusFile {
  std::string path;
  std::size_t size = 0;  /**< at listing time, in bytes */
};

struct Corpus {
  std::vector<CorpusFile> files;
  std::size_t total_bytes = 0;
  std::size_t unlisted = 0;  /**< entries skipped while listing (permission, vanished) */

  /** Every regular file (not a symlink) under `dir`. Throws
   * std::runtime_error when `dir` is not a readable directory. */
  static Corpus List(const std::string &dir);
  /** Read every file once and throw the bytes away, so the timed runs that
   * follow all read from a warm page cache. Returns the bytes read. */
  std::size_t Warm() const;
};

/** Read up to `cap` bytes of `path` into `dst` (pread, no intermediate
 * copy). Returns the bytes read, or -1 (errno set) when the file cannot be
 * opened or read. */
long ReadInto(const std::string &path, char *dst, std::size_t cap);

}  // namespace chi::mainjob
