// Offset pointers: null handling, conversion both ways, registry lookups.
#include <gtest/gtest.h>

#include "chimaera/ipc/memory_registry.h"
#include "chimaera/ipc/pointer.h"

namespace hipc_test {
using namespace chi::ipc;

TEST(Pointer, DefaultIsNull) {
  Pointer p;
  EXPECT_TRUE(p.IsNull());
  EXPECT_FALSE(static_cast<bool>(p));
  EXPECT_EQ(p, Pointer::GetNull());
  FullPtr<int> f;
  EXPECT_TRUE(f.IsNull());
}

TEST(Pointer, ArithmeticAndCompare) {
  Pointer p(AllocatorId(3), 128);
  EXPECT_FALSE(p.IsNull());
  EXPECT_EQ((p + 64).offset_, 192u);
  EXPECT_EQ((p + 64).alloc_id_, AllocatorId(3));
  EXPECT_LT(p, p + 1);
}

TEST(FullPtr, ConvertsBothWaysThroughRegistry) {
  alignas(16) static char region[4096];
  ASSERT_TRUE(MemoryRegistry::Register(AllocatorId(42), region, sizeof(region)));
  int *raw = reinterpret_cast<int *>(region + 256);
  FullPtr<int> from_raw(raw);
  EXPECT_EQ(from_raw.shm_, Pointer(AllocatorId(42), 256));
  FullPtr<int> from_shm(Pointer(AllocatorId(42), 256));
  EXPECT_EQ(from_shm.ptr_, raw);
  EXPECT_EQ(FullPtr<char>(from_shm).ptr_, reinterpret_cast<char *>(raw));
  MemoryRegistry::Unregister(AllocatorId(42));
  // Unmapped allocator: the conversion yields null instead of a wild pointer.
  EXPECT_TRUE(FullPtr<int>(Pointer(AllocatorId(42), 256)).IsNull());
  EXPECT_TRUE(FullPtr<int>(raw).IsNull());
}

TEST(FullPtr, NullPointerStaysNull) {
  EXPECT_TRUE(FullPtr<int>(Pointer()).IsNull());
  EXPECT_TRUE(FullPtr<int>(static_cast<int *>(nullptr)).IsNull());
}

TEST(MemoryRegistry, RejectsBadIdsAndRemapping) {
  alignas(16) static char a[64], b[64];
  EXPECT_FALSE(MemoryRegistry::Register(AllocatorId(0), a, sizeof(a)));
  EXPECT_FALSE(MemoryRegistry::Register(AllocatorId(kMaxAllocators), a, sizeof(a)));
  ASSERT_TRUE(MemoryRegistry::Register(AllocatorId(7), a, sizeof(a)));
  EXPECT_TRUE(MemoryRegistry::Register(AllocatorId(7), a, sizeof(a)));  // idempotent
  EXPECT_FALSE(MemoryRegistry::Register(AllocatorId(7), b, sizeof(b)));
  MemoryRegistry::Unregister(AllocatorId(7));
}
}  // namespace hipc_test
