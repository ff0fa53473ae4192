#pragma once
/**
 * @file task_archives.h
 * Task serialization archives (seeds 000/001 "Task Serialization", DESIGN.md
 * §7). The encoding is the layout of cereal's portable binary archive, written
 * directly into a byte buffer: one byte-order byte (1: little-endian, what
 * this node writes; 0: big-endian, swapped on read), then every arithmetic
 * value in that byte order, strings and vectors as a u64 count and their
 * elements. (Through cereal's iostream archives, constructing the streams and
 * their locale cost ~1.6 µs per remote task, most of a remote task's CPU.)
 *
 * Tasks implement `template <typename Ar> void SerializeIn(Ar &ar)` (their IN
 * and INOUT fields) and `SerializeOut(Ar &ar)` (OUT and INOUT). The archives:
 *  - TaskOutputArchiveIN  — serialize IN params (sender side)
 *  - TaskInputArchiveIN   — rebuild them into a fresh task (remote side)
 *  - TaskOutputArchiveOUT — serialize OUT params (remote side)
 *  - TaskInputArchiveOUT  — apply them to the original task (sender side)
 * `SaveTaskIn/LoadTaskIn/SaveTaskOut/LoadTaskOut` add the Task base fields
 * (pool, method, DomainQuery, ... / return code and error message).
 *
 * Bulk data: `ar.bulk(p, size, flags)` with
 *  - CHI_WRITE:  the bytes at p travel to the remote, which gets its own copy;
 *  - CHI_EXPOSE: the remote gets a zeroed buffer of `size` bytes to write
 *    into; on the OUT path its content is copied back into the original p.
 * On input archives `p` and `size` are outputs (the rebuilt task's buffer).
 *
 * Bulk placement: by default the bytes are inline in the archive's stream
 * (what NewCopy and the tests use). The network path calls SetBulkOut on an
 * output archive, which then only records each buffer that travels (pointer,
 * size) so the transport can send it as a frame of its own without copying
 * it into the stream, and SetBulkIn on an input archive, which then takes
 * the buffers from those frames, in order (each frame's size must equal the
 * size in the stream).
 *
 * Errors: truncated or corrupted bytes throw chi::ArchiveError (never an
 * out-of-bounds read: every length is checked against the bytes remaining
 * before anything is allocated or copied, and CHI_EXPOSE sizes against a
 * limit); a buffer that cannot be allocated throws ipc::ShmOutOfMemory. A
 * failed LoadTaskIn frees the bulk buffers it allocated.
 * Thread-safety: an archive object is used by one thread.
 */
#include <bit>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "chimaera/core/task.h"
#include "chimaera/ipc/shm_string.h"
#include "chimaera/ipc/shm_vector.h"

namespace chi {

inline constexpr u32 CHI_WRITE = 1u << 0;
inline constexpr u32 CHI_EXPOSE = 1u << 1;

/** Serialized task bytes were truncated, corrupted, or did not match. */
class ArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** A bulk buffer that travels outside the archive's stream (SetBulkOut /
 * SetBulkIn): `size` bytes at `data`. */
struct BulkSegment {
  const char *data = nullptr;
  std::size_t size = 0;
};

namespace detail {

/** Byte-order byte of an archive: 1 little-endian, 0 big-endian. */
inline constexpr char kLittleEndianMark = 1;

template <typename T>
T ByteSwap(T v) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  std::memcpy(&v, b, sizeof(T));
  return v;
}

class TaskOutputArchiveBase {
 public:
  TaskOutputArchiveBase() {
    buf_.reserve(128);
    buf_.push_back(kLittleEndianMark);
  }
  template <typename... Args>
  TaskOutputArchiveBase &operator()(const Args &...args) {
    (Save(args), ...);
    return *this;
  }
  /** The serialized bytes so far. */
  std::string Get() const { return buf_; }
  /** The serialized bytes so far, without a copy. */
  std::string_view Bytes() const noexcept { return buf_; }
  /** From now on, record travelling bulk buffers in `*segments` (in order)
   * instead of writing them inline. They are not copied: they must stay
   * valid until the caller has sent them. */
  void SetBulkOut(std::vector<BulkSegment> *segments) noexcept { bulk_out_ = segments; }

 protected:
  /** Inline, or recorded for a frame of its own (SetBulkOut). */
  void WriteBulk(const char *p, std::size_t n) {
    if (bulk_out_ != nullptr) bulk_out_->push_back({p, n});
    else WriteBytes(p, n);
  }
  template <typename T>
  void Save(const T &v) {
    if constexpr (std::is_enum_v<T>) {
      Save(static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr (std::is_arithmetic_v<T>) {
      const T le = std::endian::native == std::endian::little ? v : ByteSwap(v);
      WriteBytes(&le, sizeof(T));
    } else {
      const_cast<T &>(v).serialize(*this);  // PoolId, DomainQuery, TaskNode, ... (ar(fields...))
    }
  }
  void Save(const ipc::string &s) {
    Save(static_cast<u64>(s.size()));
    WriteBytes(s.data(), s.size());
  }
  void Save(const std::string &s) {
    Save(static_cast<u64>(s.size()));
    WriteBytes(s.data(), s.size());
  }
  template <typename T>
  void Save(const ipc::vector<T> &v) {
    Save(static_cast<u64>(v.size()));
    for (const T &x : v) Save(x);
  }
  void WriteBytes(const void *p, std::size_t n) {
    if (n) buf_.append(static_cast<const char *>(p), n);
  }
  void SaveBulkHeader(u64 size, u32 flags) {
    Save(flags);
    Save(size);
  }
  const char *Raw(ipc::Pointer p) const {
    const char *raw = reinterpret_cast<const char *>(ipc::FullPtr<char>(p).ptr_);
    if (raw == nullptr && !p.IsNull()) throw ArchiveError("bulk pointer is not mapped in this process");
    return raw;
  }

 private:
  std::string buf_;
  std::vector<BulkSegment> *bulk_out_ = nullptr;
};

class TaskInputArchiveBase {
 public:
  /** `bytes` must outlive the archive. `alloc` receives strings, vectors and
   * bulk buffers of the rebuilt task. */
  TaskInputArchiveBase(std::string_view bytes, ipc::Allocator alloc) : buf_(bytes), alloc_(alloc) {}
  template <typename... Args>
  TaskInputArchiveBase &operator()(Args &...args) {
    (Load(args), ...);
    return *this;
  }
  /** Bytes not consumed yet. */
  u64 Remaining() const noexcept { return buf_.size() - pos_; }
  ipc::Allocator &GetAllocator() noexcept { return alloc_; }
  /** Take travelling bulk buffers from `segments` (in order) instead of the
   * stream; they must outlive the archive. */
  void SetBulkIn(std::span<const BulkSegment> segments) noexcept {
    bulk_in_ = segments;
    bulk_in_set_ = true;
    bulk_in_next_ = 0;
  }
  /** Bulk segments consumed so far (the caller checks that all were). */
  std::size_t BulkSegmentsUsed() const noexcept { return bulk_in_next_; }

 protected:
  /** Copy the next travelling bulk buffer, of exactly `n` bytes, to `dst`:
   * from the stream, or from the next segment (SetBulkIn). */
  void ReadBulk(char *dst, u64 n) {
    if (!bulk_in_set_) return ReadBytes(dst, n);
    if (bulk_in_next_ >= bulk_in_.size())
      throw ArchiveError("bulk buffer " + std::to_string(bulk_in_next_) + " is missing (" +
                         std::to_string(bulk_in_.size()) + " bulk frames came)");
    const BulkSegment &seg = bulk_in_[bulk_in_next_++];
    if (seg.size != n)
      throw ArchiveError("bulk frame of " + std::to_string(seg.size) + " bytes for a buffer of " + std::to_string(n));
    if (n) std::memcpy(dst, seg.data, n);
  }
  /** Whether `n` travelling bytes can still come (stream or segment). */
  bool BulkAvailable(u64 n) {
    if (bulk_in_set_) return bulk_in_next_ < bulk_in_.size() && bulk_in_[bulk_in_next_].size == n;
    return n <= Remaining();
  }
  template <typename T>
  void Load(T &v) {
    if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> raw{};
      Load(raw);
      v = static_cast<T>(raw);
    } else if constexpr (std::is_arithmetic_v<T>) {
      CheckByteOrder();
      if (Remaining() < sizeof(T)) throw ArchiveError("truncated task bytes: a field needs " +
                                                      std::to_string(sizeof(T)) + " bytes, " +
                                                      std::to_string(Remaining()) + " remain");
      std::memcpy(&v, buf_.data() + pos_, sizeof(T));
      pos_ += sizeof(T);
      if (swap_) v = ByteSwap(v);
    } else {
      v.serialize(*this);
    }
  }
  void Load(ipc::string &s) {
    u64 n = CheckedLength(1);
    std::string tmp(n, '\0');
    ReadBytes(tmp.data(), n);
    s = tmp;
  }
  void Load(std::string &s) {
    u64 n = CheckedLength(1);
    s.assign(n, '\0');
    ReadBytes(s.data(), n);
  }
  template <typename T>
  void Load(ipc::vector<T> &v) {
    u64 n = CheckedLength(std::is_arithmetic_v<T> ? sizeof(T) : 1);
    v.clear();
    v.reserve(n);
    for (u64 i = 0; i < n; ++i) {
      v.emplace_back(MakeElement<T>());
      Load(v.back());
    }
  }
  /** Read a length prefix and check that `n * min_element_bytes` bytes remain. */
  u64 CheckedLength(u64 min_element_bytes) {
    u64 n = 0;
    Load(n);
    if (min_element_bytes && n > Remaining() / min_element_bytes)
      throw ArchiveError("corrupt task bytes: length " + std::to_string(n) + " exceeds the " +
                         std::to_string(Remaining()) + " bytes remaining");
    return n;
  }
  void ReadBytes(void *p, u64 n) {
    CheckByteOrder();
    if (n > Remaining()) throw ArchiveError("truncated task bytes");
    if (n) std::memcpy(p, buf_.data() + pos_, n);
    pos_ += n;
  }
  /** Read the byte-order byte before the first value. */
  void CheckByteOrder() {
    if (pos_ != 0) return;
    if (buf_.empty()) throw ArchiveError("empty task bytes");
    const char mark = buf_[0];
    if (mark != 0 && mark != 1)
      throw ArchiveError("not task bytes: byte-order mark " + std::to_string(static_cast<int>(mark)));
    swap_ = (mark == kLittleEndianMark) != (std::endian::native == std::endian::little);
    pos_ = 1;
  }
  void LoadBulkHeader(u64 &size, u32 flags) {
    u32 sent_flags = 0;
    Load(sent_flags);
    if (sent_flags != flags)
      throw ArchiveError("bulk flags mismatch: sent " + std::to_string(sent_flags) + ", expected " +
                         std::to_string(flags));
    Load(size);
  }
  template <typename T>
  T MakeElement() {
    if constexpr (std::is_constructible_v<T, const ipc::Allocator &>) return T(alloc_);
    else return T();
  }

  std::string_view buf_;
  std::size_t pos_ = 0;  // 0 until the byte-order byte is read
  bool swap_ = false;
  ipc::Allocator alloc_;
  std::span<const BulkSegment> bulk_in_;
  bool bulk_in_set_ = false;
  std::size_t bulk_in_next_ = 0;
};

}  // namespace detail

/** Serialize IN params (sender side). */
class TaskOutputArchiveIN : public detail::TaskOutputArchiveBase {
 public:
  /** CHI_WRITE: the bytes travel; CHI_EXPOSE: only the size does. */
  void bulk(ipc::Pointer p, std::size_t size, u32 flags) {
    SaveBulkHeader(size, flags);
    if (flags & CHI_WRITE) WriteBulk(Raw(p), size);
  }
  template <typename TaskT>
  void SaveTaskIn(TaskT &task) {
    (*this)(task.pool_, task.method_, task.prio_, task.task_node_, task.dom_query_, task.task_flags_);
    task.SerializeIn(*this);
  }
};

/** Rebuild IN params into a fresh task (remote side). */
class TaskInputArchiveIN : public detail::TaskInputArchiveBase {
 public:
  using TaskInputArchiveBase::TaskInputArchiveBase;
  /** Largest CHI_EXPOSE buffer accepted, in bytes (default 256 MiB): its size
   * comes from the (untrusted) bytes and nothing bounds it otherwise. */
  void SetMaxExposeBytes(u64 n) noexcept { max_expose_bytes_ = n; }

  /** Allocates the rebuilt task's buffer of `size` bytes in the archive's
   * allocator: filled with the sent bytes (CHI_WRITE) or zeroed (CHI_EXPOSE). */
  void bulk(ipc::Pointer &p, std::size_t &size, u32 flags) {
    u64 n = 0;
    LoadBulkHeader(n, flags);
    if ((flags & CHI_WRITE) && !BulkAvailable(n))
      throw ArchiveError("truncated task bytes: bulk of " + std::to_string(n) + " bytes, " +
                         (bulk_in_set_ ? "no bulk frame of that size came"
                                       : std::to_string(Remaining()) + " remain"));
    if (!(flags & CHI_WRITE) && n > max_expose_bytes_)
      throw ArchiveError("exposed bulk buffer of " + std::to_string(n) + " bytes exceeds the limit of " +
                         std::to_string(max_expose_bytes_));
    p = alloc_.Allocate(n);
    if (p.IsNull()) throw ipc::ShmOutOfMemory();
    allocated_.push_back(&p);
    char *dst = alloc_.Convert<char>(p);
    if (flags & CHI_WRITE) ReadBulk(dst, n);
    else std::memset(dst, 0, n);
    size = n;
  }
  /** Rebuild `task`. On error, the bulk buffers allocated so far are freed
   * (and their pointers in the task nulled) before the exception propagates;
   * the task's strings and vectors are freed by its destructor. On success
   * the task does not own its bulk buffers (tasks never free their Pointer
   * fields): LoadedBulk() lists them for whoever frees them after the task. */
  template <typename TaskT>
  void LoadTaskIn(TaskT &task) {
    allocated_.clear();
    loaded_.clear();
    try {
      (*this)(task.pool_, task.method_, task.prio_, task.task_node_, task.dom_query_, task.task_flags_);
      task.SerializeIn(*this);
    } catch (...) {
      for (ipc::Pointer *p : allocated_) {
        alloc_.Free(*p);
        *p = ipc::Pointer();
      }
      allocated_.clear();
      throw;
    }
    for (ipc::Pointer *p : allocated_) loaded_.push_back(*p);
    allocated_.clear();
  }
  /** The bulk buffers the last successful LoadTaskIn allocated (in the
   * archive's allocator); the caller frees them once the task is done. */
  const std::vector<ipc::Pointer> &LoadedBulk() const noexcept { return loaded_; }

 private:
  u64 max_expose_bytes_ = u64{256} << 20;
  std::vector<ipc::Pointer *> allocated_;  // bulk buffers of the task being loaded
  std::vector<ipc::Pointer> loaded_;       // ... and of the last task loaded
};

/** Serialize OUT params (remote side). */
class TaskOutputArchiveOUT : public detail::TaskOutputArchiveBase {
 public:
  /** CHI_EXPOSE buffers travel back (the remote wrote into them). */
  void bulk(ipc::Pointer p, std::size_t size, u32 flags) {
    SaveBulkHeader(size, flags);
    if (flags & CHI_EXPOSE) WriteBulk(Raw(p), size);
  }
  template <typename TaskT>
  void SaveTaskOut(TaskT &task) {
    (*this)(task.return_code_, task.error_);
    task.SerializeOut(*this);
  }
};

/** Apply OUT params to the original task (sender side). */
class TaskInputArchiveOUT : public detail::TaskInputArchiveBase {
 public:
  using TaskInputArchiveBase::TaskInputArchiveBase;
  /** CHI_EXPOSE: copy the returned bytes into the original buffer `p`, whose
   * size must equal the one sent. */
  void bulk(ipc::Pointer &p, std::size_t &size, u32 flags) {
    u64 n = 0;
    LoadBulkHeader(n, flags);
    if (!(flags & CHI_EXPOSE)) return;
    if (n != size) throw ArchiveError("bulk size mismatch: " + std::to_string(n) + " returned for a buffer of " +
                                      std::to_string(size));
    char *dst = reinterpret_cast<char *>(ipc::FullPtr<char>(p).ptr_);
    if (dst == nullptr && n) throw ArchiveError("bulk pointer is not mapped in this process");
    ReadBulk(dst, n);
  }
  template <typename TaskT>
  void LoadTaskOut(TaskT &task) {
    (*this)(task.return_code_, task.error_);
    task.SerializeOut(*this);
  }
};

}  // namespace chi
