#include "chimaera/ipc/memory_registry.h"

#include <atomic>

namespace chi::ipc {
namespace {
// Each entry is written by Register/Unregister and read lock-free by lookups.
// `size` is published before `base` (release) so a reader that sees a base
// also sees its size (acquire on base).
struct Entry {
  std::atomic<char *> base{nullptr};
  std::atomic<std::size_t> size{0};
};
Entry g_entries[kMaxAllocators];
std::atomic<u32> g_default{0};
}  // namespace

bool MemoryRegistry::Register(AllocatorId id, char *base, std::size_t size) noexcept {
  if (id.IsNull() || id.id_ >= kMaxAllocators || base == nullptr) return false;
  Entry &e = g_entries[id.id_];
  char *cur = e.base.load(std::memory_order_acquire);
  if (cur != nullptr && cur != base) return false;
  e.size.store(size, std::memory_order_relaxed);
  e.base.store(base, std::memory_order_release);
  return true;
}

void MemoryRegistry::Unregister(AllocatorId id) noexcept {
  if (id.IsNull() || id.id_ >= kMaxAllocators) return;
  g_entries[id.id_].base.store(nullptr, std::memory_order_release);
}

char *MemoryRegistry::Base(AllocatorId id) noexcept {
  if (id.id_ >= kMaxAllocators) return nullptr;
  return g_entries[id.id_].base.load(std::memory_order_acquire);
}

Pointer MemoryRegistry::Find(const void *ptr) noexcept {
  auto *p = static_cast<const char *>(ptr);
  if (p == nullptr) return Pointer();
  for (u32 i = 1; i < kMaxAllocators; ++i) {
    char *base = g_entries[i].base.load(std::memory_order_acquire);
    if (base == nullptr) continue;
    std::size_t size = g_entries[i].size.load(std::memory_order_relaxed);
    if (p > base && p < base + size) return Pointer(AllocatorId(i), static_cast<u64>(p - base));
  }
  return Pointer();
}

AllocatorId MemoryRegistry::Default() noexcept { return AllocatorId(g_default.load(std::memory_order_acquire)); }
void MemoryRegistry::SetDefault(AllocatorId id) noexcept { g_default.store(id.id_, std::memory_order_release); }

char *ResolveBase(AllocatorId id) noexcept { return MemoryRegistry::Base(id); }
Pointer ToPointer(const void *ptr) noexcept { return MemoryRegistry::Find(ptr); }

}  // namespace chi::ipc
