// Allocator: size classes, boundaries (zero, huge, OOM), reuse, splitting,
// invalid/double free, many threads (run under TSan too) and forked processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "shm_test_util.h"

namespace hipc_test {
using namespace chi::ipc;
using chi::ipc::testing::UniqueSegmentName;
using chi::ipc::testing::UnlinkGuard;

class AllocatorTest : public ::testing::Test {
 protected:
  void Make(std::size_t bytes) {
    name_ = UniqueSegmentName("alloc");
    seg_ = Segment::Create({name_, bytes, AllocatorId(20)});
    alloc_ = seg_->GetAllocator();
  }
  void TearDown() override {
    seg_.reset();
    Segment::Unlink(name_);
  }
  std::string name_;
  std::unique_ptr<Segment> seg_;
  Allocator alloc_;
};

TEST(SizeClass, Boundaries) {
  EXPECT_EQ(SizeClassFor(0), 0u);
  EXPECT_EQ(SizeClassFor(48), 0u);   // 48 + 16 header = 64
  EXPECT_EQ(SizeClassFor(49), 1u);   // 65 -> 128
  EXPECT_EQ(SizeClassFor(112), 1u);
  EXPECT_EQ(SizeClassFor(113), 2u);
  EXPECT_EQ(SizeClassFor(~std::size_t{0}), kNumSizeClasses);
}

TEST_F(AllocatorTest, ZeroSizeIsAValidDistinctBlock) {
  Make(1 << 20);
  Pointer a = alloc_.Allocate(0), b = alloc_.Allocate(0);
  ASSERT_FALSE(a.IsNull());
  ASSERT_FALSE(b.IsNull());
  EXPECT_NE(a, b);
  EXPECT_EQ(alloc_.UsableSize(a), 48u);
  EXPECT_TRUE(alloc_.Free(a));
  EXPECT_TRUE(alloc_.Free(b));
}

TEST_F(AllocatorTest, AlignmentAndUsableSize) {
  Make(4 << 20);
  for (std::size_t n : {1, 15, 16, 17, 100, 1000, 4096, 65536}) {
    Pointer p = alloc_.Allocate(n);
    ASSERT_FALSE(p.IsNull()) << n;
    EXPECT_EQ(p.offset_ % 16, 0u);
    EXPECT_GE(alloc_.UsableSize(p), n);
    std::memset(alloc_.Convert(p), 0xAB, n);  // the whole request is writable
    EXPECT_TRUE(alloc_.Free(p));
  }
}

TEST_F(AllocatorTest, HugeAndOutOfMemoryAreReturnedNotThrown) {
  Make(1 << 20);
  EXPECT_TRUE(alloc_.Allocate(std::size_t{1} << 40).IsNull());  // far larger than the segment
  EXPECT_TRUE(alloc_.Allocate(~std::size_t{0}).IsNull());
  std::vector<Pointer> got;
  for (;;) {
    Pointer p = alloc_.Allocate(1000);
    if (p.IsNull()) break;
    got.push_back(p);
  }
  EXPECT_GT(got.size(), 500u);  // ~1 MiB / 1 KiB blocks
  EXPECT_TRUE(alloc_.Allocate(1000).IsNull());  // still OOM, still no crash
  for (Pointer p : got) EXPECT_TRUE(alloc_.Free(p));
  // Everything freed is reusable: the same number of blocks fits again.
  std::size_t again = 0;
  std::vector<Pointer> got2;
  for (Pointer p; !(p = alloc_.Allocate(1000)).IsNull();) got2.push_back(p), ++again;
  EXPECT_EQ(again, got.size());
  for (Pointer p : got2) alloc_.Free(p);
}

TEST_F(AllocatorTest, LargeBuffersOfMegabytes) {
  Make(64 << 20);
  Pointer p = alloc_.Allocate(20 << 20);
  ASSERT_FALSE(p.IsNull());
  char *raw = alloc_.Convert<char>(p);
  std::memset(raw, 7, 20 << 20);
  EXPECT_EQ(raw[(20 << 20) - 1], 7);
  EXPECT_TRUE(alloc_.Free(p));
  Pointer q = alloc_.Allocate(20 << 20);  // reuses the freed 32 MiB class block
  EXPECT_EQ(q, p);
  alloc_.Free(q);
}

TEST_F(AllocatorTest, SplitsLargeFreeBlocksWhenBumpIsExhausted) {
  Make(1 << 20);
  // Take one big block, exhaust the bump region with it, then free it: small
  // requests must now be served by splitting it.
  Pointer big = alloc_.Allocate(400 << 10);  // class 512 KiB
  ASSERT_FALSE(big.IsNull());
  std::vector<Pointer> fill;
  for (Pointer p; !(p = alloc_.Allocate(60 << 10)).IsNull();) fill.push_back(p);
  ASSERT_TRUE(alloc_.Allocate(60 << 10).IsNull());
  for (Pointer p; !(p = alloc_.Allocate(100)).IsNull();) fill.push_back(p);  // the bump tail too
  ASSERT_TRUE(alloc_.Free(big));
  std::set<Pointer> seen;
  for (int i = 0; i < 1000; ++i) {
    Pointer p = alloc_.Allocate(100);
    ASSERT_FALSE(p.IsNull()) << i;
    ASSERT_TRUE(seen.insert(p).second);
    ASSERT_GE(p.offset_, big.offset_ - 16);
    ASSERT_LT(p.offset_, big.offset_ + (512 << 10));
  }
  for (Pointer p : seen) alloc_.Free(p);
  for (Pointer p : fill) alloc_.Free(p);
}

TEST_F(AllocatorTest, InvalidAndDoubleFreeAreRejected) {
  Make(1 << 20);
  Pointer p = alloc_.Allocate(64);
  EXPECT_TRUE(alloc_.Free(p));
  EXPECT_FALSE(alloc_.Free(p));                               // double free
  EXPECT_FALSE(alloc_.Free(Pointer()));                       // null
  EXPECT_FALSE(alloc_.Free(Pointer(AllocatorId(99), 4096)));  // other allocator
  EXPECT_FALSE(alloc_.Free(Pointer(AllocatorId(20), 8)));     // inside the header
  EXPECT_FALSE(alloc_.Free(Pointer(AllocatorId(20), 1ull << 40)));  // past the end
  Pointer q = alloc_.Allocate(64);
  EXPECT_FALSE(alloc_.Free(q + 16));  // not a block start
  EXPECT_TRUE(alloc_.Free(q));
}

TEST_F(AllocatorTest, NewObjDelObj) {
  Make(1 << 20);
  struct Obj {
    int a;
    double b;
    Obj(int x, double y) : a(x), b(y) {}
  };
  FullPtr<Obj> o = alloc_.NewObj<Obj>(3, 4.5);
  ASSERT_FALSE(o.IsNull());
  EXPECT_EQ(o->a, 3);
  EXPECT_EQ(FullPtr<Obj>(o.shm_).ptr_, o.ptr_);
  EXPECT_TRUE(alloc_.DelObj(o));
}

// Many threads allocate, write a pattern, verify, and free: no block is handed
// out twice and no data is corrupted. Run under TSan by CI.
TEST_F(AllocatorTest, ConcurrentThreadsNeverShareABlock) {
  Make(64 << 20);
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<std::pair<Pointer, std::size_t>> live;
      for (int i = 0; i < kRounds; ++i) {
        if (live.size() < 64 && (rng() % 3 != 0 || live.empty())) {
          std::size_t n = 1 + rng() % 2000;
          Pointer p = alloc_.Allocate(n);
          if (p.IsNull()) { errors++; continue; }
          std::memset(alloc_.Convert(p), t + 1, n);
          live.emplace_back(p, n);
        } else {
          auto [p, n] = live.back();
          live.pop_back();
          auto *c = alloc_.Convert<unsigned char>(p);
          if (c[0] != t + 1 || c[n - 1] != t + 1) errors++;
          if (!alloc_.Free(p)) errors++;
        }
      }
      for (auto [p, n] : live) alloc_.Free(p);
    });
  }
  for (auto &th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
}

// Forked processes allocate from the same segment at once; every block they
// report is distinct and intact (checked by the parent afterwards).
TEST(AllocatorMultiProcess, ForkedProcessesGetDisjointBlocks) {
  std::string name = UniqueSegmentName("allocmp");
  UnlinkGuard guard{name};
  auto seg = Segment::Create({name, 64 << 20, AllocatorId(21)});
  Allocator alloc = seg->GetAllocator();
  constexpr int kProcs = 4, kBlocks = 5000;
  // Results table in the segment: kProcs x kBlocks Pointers.
  Pointer table = alloc.Allocate(sizeof(Pointer) * kProcs * kBlocks);
  ASSERT_FALSE(table.IsNull());
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(60);
      auto *out = alloc.Convert<Pointer>(table) + p * kBlocks;
      for (int i = 0; i < kBlocks; ++i) {
        // Churn: allocate/free a scratch block between kept ones.
        Pointer scratch = alloc.Allocate(200);
        Pointer keep = alloc.Allocate(100);
        if (keep.IsNull() || scratch.IsNull()) _exit(3);
        std::memset(alloc.Convert(keep), p + 1, 100);
        alloc.Free(scratch);
        out[i] = keep;
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(k, &status, 0), k);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  std::set<Pointer> seen;
  auto *all = alloc.Convert<Pointer>(table);
  for (int p = 0; p < kProcs; ++p) {
    for (int i = 0; i < kBlocks; ++i) {
      Pointer ptr = all[p * kBlocks + i];
      ASSERT_TRUE(seen.insert(ptr).second) << "block handed out twice";
      auto *c = alloc.Convert<unsigned char>(ptr);
      ASSERT_EQ(c[0], p + 1);
      ASSERT_EQ(c[99], p + 1);
    }
  }
}

// A process killed in the middle of heavy allocation must not wedge others:
// the allocator holds no locks, so the survivor keeps allocating.
TEST(AllocatorMultiProcess, KilledProcessDoesNotDeadlockOthers) {
  std::string name = UniqueSegmentName("allockill");
  UnlinkGuard guard{name};
  auto seg = Segment::Create({name, 64 << 20, AllocatorId(22)});
  Allocator alloc = seg->GetAllocator();
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) {
      Pointer p = alloc.Allocate(64);
      alloc.Free(p);
    }
  }
  usleep(50 * 1000);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  for (int i = 0; i < 100000; ++i) {
    Pointer p = alloc.Allocate(64);
    ASSERT_FALSE(p.IsNull());
    ASSERT_TRUE(alloc.Free(p));
  }
}
}  // namespace hipc_test

namespace hipc_test {
TEST_F(AllocatorTest, AlignedAllocationsForCacheLineTypes) {
  Make(4 << 20);
  for (std::size_t align : {16, 64, 128, 4096}) {
    std::vector<Pointer> ps;
    for (int i = 0; i < 50; ++i) {
      Pointer p = alloc_.AllocateAligned(100 + i, align);
      ASSERT_FALSE(p.IsNull());
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(alloc_.Convert(p)) % align, 0u) << align;
      std::memset(alloc_.Convert(p), 0x5A, 100 + i);
      ps.push_back(p);
    }
    for (Pointer p : ps) ASSERT_TRUE(alloc_.Free(p));
    for (Pointer p : ps) ASSERT_FALSE(alloc_.Free(p));  // double free still rejected
  }
  EXPECT_TRUE(alloc_.AllocateAligned(8, 3).IsNull());     // not a power of two
  EXPECT_TRUE(alloc_.AllocateAligned(8, 8192).IsNull());  // too large
  struct alignas(64) Line {
    char c[64];
  };
  FullPtr<Line> l = alloc_.NewObj<Line>();
  ASSERT_FALSE(l.IsNull());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(l.ptr_) % 64, 0u);
  EXPECT_TRUE(alloc_.DelObj(l));
}
}  // namespace hipc_test
