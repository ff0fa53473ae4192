#pragma once
/**
 * @file shm_string.h
 * `chi::ipc::string`: a byte string in shared memory (the seeds' hipc::string
 * inside tasks, e.g. CreatePoolTask::pool_name_). Built on chi::ipc::vector,
 * so it shares its allocator rules, errors and thread-safety. Always keeps a
 * trailing NUL after the contents so c_str() needs no allocation.
 */
#include <string>
#include <string_view>

#include "chimaera/ipc/shm_vector.h"

namespace chi::ipc {

class string {
 public:
  string() noexcept = default;
  explicit string(const Allocator &alloc) noexcept : chars_(alloc) {}
  string(const Allocator &alloc, std::string_view s) : chars_(alloc) { assign(s); }
  explicit string(std::string_view s) { assign(s); }  // default allocator

  string &operator=(std::string_view s) {
    assign(s);
    return *this;
  }
  /** Replace the contents. Throws ShmOutOfMemory when the allocator is full. */
  void assign(std::string_view s) {
    chars_.reserve(s.size() + 1);
    chars_.assign(s.data(), s.size());
    chars_.push_back('\0');
  }

  std::size_t size() const noexcept { return chars_.empty() ? 0 : chars_.size() - 1; }
  bool empty() const noexcept { return size() == 0; }
  const char *data() const noexcept { return chars_.empty() ? "" : chars_.data(); }
  const char *c_str() const noexcept { return data(); }
  std::string_view view() const noexcept { return {data(), size()}; }
  std::string str() const { return std::string(view()); }
  AllocatorId GetAllocatorId() const noexcept { return chars_.GetAllocatorId(); }

  bool operator==(const string &o) const noexcept { return view() == o.view(); }
  bool operator==(std::string_view o) const noexcept { return view() == o; }

 private:
  vector<char> chars_;
};

}  // namespace chi::ipc
