#pragma once
/**
 * @file shm_vector.h
 * `chi::ipc::vector<T>`: a growable array whose header and elements live in
 * shared memory (the seeds' "vectors inside tasks"). It stores only an
 * AllocatorId and an offset, so a vector placed in shm is usable from every
 * process that maps the allocator's segment.
 *
 * - T must itself be shm-safe (no raw pointers, no vtable): trivially
 *   copyable types, chi::ipc::string, nested vectors, Pointers.
 * - A default-constructed vector has no allocator yet; its first allocation
 *   uses MemoryRegistry::Default() (the runtime's segment). Copies use the
 *   source's allocator.
 * - Growth failure (allocator out of memory, or no allocator at all) throws
 *   ShmOutOfMemory / ShmError; the vector is left unchanged (strong guarantee
 *   for push_back/reserve).
 *
 * Thread-safety: like std::vector — concurrent const access is safe; any
 * mutation needs external synchronisation.
 */
#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "chimaera/ipc/allocator.h"
#include "chimaera/ipc/shm_error.h"

namespace chi::ipc {

template <typename T>
class vector {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T *;
  using const_iterator = const T *;

  vector() noexcept = default;
  explicit vector(const Allocator &alloc) noexcept : alloc_id_(alloc.Id()) {}
  vector(const Allocator &alloc, size_type n) : alloc_id_(alloc.Id()) { resize(n); }
  vector(const Allocator &alloc, std::initializer_list<T> init) : alloc_id_(alloc.Id()) {
    reserve(init.size());
    for (const T &v : init) push_back(v);
  }
  vector(const vector &other) : alloc_id_(other.alloc_id_) {
    reserve(other.size_);
    for (const T &v : other) push_back(v);
  }
  vector(vector &&other) noexcept
      : alloc_id_(other.alloc_id_), data_off_(other.data_off_), size_(other.size_), capacity_(other.capacity_) {
    other.data_off_ = 0;
    other.size_ = other.capacity_ = 0;
  }
  vector &operator=(const vector &other) {
    if (this != &other) {
      vector tmp(other);
      swap(tmp);
    }
    return *this;
  }
  vector &operator=(vector &&other) noexcept {
    if (this != &other) {
      vector tmp(std::move(other));
      swap(tmp);
    }
    return *this;
  }
  ~vector() { Release(); }

  void swap(vector &o) noexcept {
    std::swap(alloc_id_, o.alloc_id_);
    std::swap(data_off_, o.data_off_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
  }

  size_type size() const noexcept { return size_; }
  size_type capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  AllocatorId GetAllocatorId() const noexcept { return alloc_id_; }
  /** Shm pointer to element 0 (null when nothing was allocated yet). */
  Pointer GetShmPointer() const noexcept { return data_off_ ? Pointer(alloc_id_, data_off_) : Pointer(); }

  T *data() noexcept { return Elements(); }
  const T *data() const noexcept { return Elements(); }
  T &operator[](size_type i) noexcept { return Elements()[i]; }
  const T &operator[](size_type i) const noexcept { return Elements()[i]; }
  /** Bounds-checked access; throws std::out_of_range naming index and size. */
  T &at(size_type i) {
    CheckIndex(i);
    return Elements()[i];
  }
  const T &at(size_type i) const {
    CheckIndex(i);
    return Elements()[i];
  }
  T &front() noexcept { return Elements()[0]; }
  T &back() noexcept { return Elements()[size_ - 1]; }
  iterator begin() noexcept { return Elements(); }
  iterator end() noexcept { return Elements() + size_; }
  const_iterator begin() const noexcept { return Elements(); }
  const_iterator end() const noexcept { return Elements() + size_; }

  /** Ensure room for `n` elements. Throws ShmOutOfMemory / ShmError. */
  void reserve(size_type n) {
    if (n <= capacity_) return;
    if (alloc_id_.IsNull()) alloc_id_ = MemoryRegistry::Default();
    Allocator alloc = Allocator::FromId(alloc_id_);
    if (alloc.IsNull()) throw ShmError("chi::ipc::vector has no allocator mapped in this process");
    if (n > (~size_type{0}) / sizeof(T)) throw ShmOutOfMemory();
    Pointer p = alloc.Allocate(n * sizeof(T));
    if (p.IsNull()) throw ShmOutOfMemory();
    T *dst = alloc.Convert<T>(p);
    T *src = Elements();
    for (size_type i = 0; i < size_; ++i) {
      new (dst + i) T(std::move_if_noexcept(src[i]));
      src[i].~T();
    }
    if (data_off_ != 0) alloc.Free(Pointer(alloc_id_, data_off_));
    data_off_ = p.offset_;
    capacity_ = n;
  }
  template <typename... Args>
  T &emplace_back(Args &&...args) {
    if (size_ == capacity_) reserve(std::max<size_type>(4, capacity_ * 2));
    T *slot = Elements() + size_;
    new (slot) T(std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }
  void push_back(const T &v) { emplace_back(v); }
  void push_back(T &&v) { emplace_back(std::move(v)); }
  void pop_back() noexcept { Elements()[--size_].~T(); }
  /** Grow with value-initialised elements or shrink (destroying the tail). */
  void resize(size_type n) {
    if (n > capacity_) reserve(n);
    while (size_ < n) emplace_back();
    while (size_ > n) pop_back();
  }
  void clear() noexcept {
    while (size_ > 0) pop_back();
  }
  /** Replace the contents by [first, first + n) (T trivially copyable). */
  void assign(const T *first, size_type n) {
    static_assert(std::is_trivially_copyable_v<T>);
    clear();
    reserve(n);
    if (n) std::memcpy(Elements(), first, n * sizeof(T));
    size_ = n;
  }

 private:
  T *Elements() const noexcept {
    if (data_off_ == 0) return nullptr;
    return reinterpret_cast<T *>(ResolveBase(alloc_id_) + data_off_);
  }
  void CheckIndex(size_type i) const {
    if (i >= size_)
      throw std::out_of_range("chi::ipc::vector index " + std::to_string(i) + " >= size " + std::to_string(size_));
  }
  void Release() noexcept {
    clear();
    if (data_off_ != 0) {
      Allocator alloc = Allocator::FromId(alloc_id_);
      if (!alloc.IsNull()) alloc.Free(Pointer(alloc_id_, data_off_));
      data_off_ = 0;
      capacity_ = 0;
    }
  }

  AllocatorId alloc_id_;
  u64 data_off_ = 0;
  u64 size_ = 0;
  u64 capacity_ = 0;
};

}  // namespace chi::ipc
