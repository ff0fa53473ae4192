/** @file corpus.cc  Listing and reading the main job's files (corpus.h). */
#include "corpus.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace fs = std::filesystem;

namespace chi::mainjob {

Corpus Corpus::List(const std::string &dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error("not a directory: " + dir);
  Corpus c;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_symlink(fec) || !it->is_regular_file(fec)) continue;
    const auto size = it->file_size(fec);
    if (fec) {
      ++c.unlisted;
      continue;
    }
    c.files.push_back({it->path().string(), static_cast<std::size_t>(size)});
  }
  if (ec) throw std::runtime_error(dir + ": " + ec.message());
  std::sort(c.files.begin(), c.files.end(), [](const CorpusFile &a, const CorpusFile &b) { return a.path < b.path; });
  for (const CorpusFile &f : c.files) c.total_bytes += f.size;
  return c;
}

long ReadInto(const std::string &path, char *dst, std::size_t cap) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t got = 0;
  while (got < cap) {
    const ssize_t n = pread(fd, dst + got, cap - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    if (n == 0) break;  // shorter than listed
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  return static_cast<long>(got);
}

std::size_t Corpus::Warm() const {
  std::vector<char> buf;
  std::size_t total = 0;
  for (const CorpusFile &f : files) {
    buf.resize(std::max<std::size_t>(f.size, 1));
    const long n = ReadInto(f.path, buf.data(), f.size);
    if (n > 0) total += static_cast<std::size_t>(n);
  }
  return total;
}

}  // namespace chi::mainjob
