// Tests of hipc::MultiMpscQueue / MpscLane (multi_mpsc_queue.h).
// Test-harness atomics use the seq_cst defaults: their ordering is not under test.
#include "chimaera/ipc/multi_mpsc_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <thread>
#include <vector>

namespace {

using hipc::MultiMpscQueue;
using hipc::QueueStatus;
using hipc::u32;
using hipc::u64;

/** The kind of header TaskQueue stores (DESIGN.md §4): the worker a lane is
 * mapped to and the "lane is in its worker's active queue" flag. */
struct TestLaneHeader {
  u32 worker_id_ = 0xFFFFFFFFu;
  std::atomic<u32> in_active_queue_{0};
  u64 tag_ = 0;
};

using TestQueue = MultiMpscQueue<u64, TestLaneHeader>;

/** kCacheLineBytes-aligned heap memory holding a MultiMpscQueue. */
class Holder {
 public:
  Holder(u32 lanes, u32 prios, u32 depth)
      : bytes_(TestQueue::SizeOf(lanes, prios, depth)),
        mem_(static_cast<char *>(::operator new(bytes_, std::align_val_t{hipc::kCacheLineBytes}))) {
    std::fill(mem_, mem_ + bytes_, static_cast<char>(0x5A));
    q_ = new (mem_) TestQueue(lanes, prios, depth);
  }
  ~Holder() { ::operator delete(mem_, std::align_val_t{hipc::kCacheLineBytes}); }
  Holder(const Holder &) = delete;
  Holder &operator=(const Holder &) = delete;
  TestQueue *operator->() { return q_; }
  TestQueue &operator*() { return *q_; }
  char *begin() { return mem_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_;
  char *mem_;
  TestQueue *q_;
};

TEST(MultiMpscQueue, GeometryAndDefaults) {
  Holder q(3, 2, 10);
  EXPECT_EQ(q->GetNumLanes(), 3u);
  EXPECT_EQ(q->GetNumPrios(), 2u);
  EXPECT_EQ(q->GetDepth(), 16u);  // rounded up to a power of two
  for (u32 p = 0; p < 2; ++p) {
    for (u32 l = 0; l < 3; ++l) {
      auto &lane = q->GetLane(l, p);
      EXPECT_EQ(lane.Queue().Capacity(), 16u);
      EXPECT_TRUE(lane.IsEmpty());
      EXPECT_EQ(lane.Header().worker_id_, 0xFFFFFFFFu);  // default-constructed
      EXPECT_EQ(lane.Header().in_active_queue_.load(), 0u);
    }
  }
  // 0 lanes / 0 priorities are treated as 1.
  Holder one(0, 0, 0);
  EXPECT_EQ(one->GetNumLanes(), 1u);
  EXPECT_EQ(one->GetNumPrios(), 1u);
  EXPECT_EQ(one->GetDepth(), 1u);
  EXPECT_EQ(TestQueue::SizeOf(0, 0, 0), TestQueue::SizeOf(1, 1, 1));
}

TEST(MultiMpscQueue, LayoutStrideAndAlignment) {
  constexpr u32 kLanes = 4, kPrios = 3, kDepth = 64;
  Holder q(kLanes, kPrios, kDepth);
  const std::size_t stride = q->GetLaneStride();
  EXPECT_EQ(stride, TestQueue::LaneStride(kDepth));
  EXPECT_EQ(stride % hipc::kCacheLineBytes, 0u);
  EXPECT_GE(stride, hipc::MpscQueue<u64>::SizeOf(kDepth) + sizeof(TestLaneHeader));
  EXPECT_EQ(q.bytes(), sizeof(TestQueue) + std::size_t{kLanes} * kPrios * stride);

  const char *first = reinterpret_cast<const char *>(&q->GetLane(0, 0));
  EXPECT_GE(first, q.begin() + sizeof(TestQueue));
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) {
      const auto &lane = q->GetLane(l, p);
      const char *addr = reinterpret_cast<const char *>(&lane);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(addr) % hipc::kCacheLineBytes, 0u);
      // Priority-major, fixed stride.
      EXPECT_EQ(static_cast<std::size_t>(addr - first), (std::size_t{p} * kLanes + l) * stride);
      // The header has its own line(s); the queue starts on a line boundary.
      const char *queue = reinterpret_cast<const char *>(&lane.Queue());
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(queue) % hipc::kCacheLineBytes, 0u);
      EXPECT_GE(static_cast<std::size_t>(queue - addr), sizeof(TestLaneHeader));
      // The lane (header + queue + slots) ends inside the block.
      EXPECT_LE(queue + hipc::MpscQueue<u64>::SizeOf(kDepth), q.begin() + q.bytes());
      EXPECT_LE(queue + hipc::MpscQueue<u64>::SizeOf(kDepth), addr + stride);
    }
  }
}

TEST(MultiMpscQueue, LanesAreIndependent) {
  constexpr u32 kLanes = 4, kPrios = 2, kDepth = 8;
  Holder q(kLanes, kPrios, kDepth);
  // Fill every lane to capacity with values naming the lane.
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) {
      auto &lane = q->GetLane(l, p);
      for (u64 i = 0; i < kDepth; ++i) ASSERT_EQ(lane.Push(p * 1000 + l * 100 + i), QueueStatus::kOk);
      EXPECT_EQ(lane.Push(0), QueueStatus::kFull);
      EXPECT_EQ(lane.Size(), kDepth);
    }
  }
  // Draining one lane leaves the others full.
  u64 out = 0;
  for (u64 i = 0; i < kDepth; ++i) {
    ASSERT_EQ(q->GetLane(2, 1).Pop(out), QueueStatus::kOk);
    EXPECT_EQ(out, 1000 + 200 + i);
  }
  EXPECT_EQ(q->GetLane(2, 1).Pop(out), QueueStatus::kEmpty);
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) {
      if (p == 1 && l == 2) continue;
      EXPECT_EQ(q->GetLane(l, p).Size(), kDepth) << l << "," << p;
    }
  }
  // Every other lane still holds exactly its own items in order.
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) {
      if (p == 1 && l == 2) continue;
      for (u64 i = 0; i < kDepth; ++i) {
        ASSERT_EQ(q->GetLane(l, p).Pop(out), QueueStatus::kOk);
        EXPECT_EQ(out, p * 1000 + l * 100 + i);
      }
    }
  }
}

TEST(MultiMpscQueue, HeaderPerLaneStoredAndRetrieved) {
  Holder q(5, 3, 4);
  for (u32 p = 0; p < 3; ++p) {
    for (u32 l = 0; l < 5; ++l) {
      auto &h = q->GetLane(l, p).Header();
      h.worker_id_ = l * 10 + p;
      h.tag_ = 0xABCD0000u + l * 16 + p;
    }
  }
  // Pushing into lanes does not disturb headers, and vice versa.
  for (u32 p = 0; p < 3; ++p) {
    for (u32 l = 0; l < 5; ++l) ASSERT_EQ(q->GetLane(l, p).Push(l + p), QueueStatus::kOk);
  }
  // The runtime's flag protocol: only the 0 -> 1 flip enqueues the lane.
  auto &flag = q->GetLane(3, 2).Header().in_active_queue_;
  u32 expected = 0;
  EXPECT_TRUE(flag.compare_exchange_strong(expected, 1));
  expected = 0;
  EXPECT_FALSE(flag.compare_exchange_strong(expected, 1));
  for (u32 p = 0; p < 3; ++p) {
    for (u32 l = 0; l < 5; ++l) {
      const TestQueue &cq = *q;
      const auto &lane = cq.GetLane(l, p);
      EXPECT_EQ(lane.Header().worker_id_, l * 10 + p);
      EXPECT_EQ(lane.Header().tag_, 0xABCD0000u + l * 16 + p);
      EXPECT_EQ(lane.Header().in_active_queue_.load(), (l == 3 && p == 2) ? 1u : 0u);
      u64 out = 0;
      ASSERT_EQ(q->GetLane(l, p).Pop(out), QueueStatus::kOk);
      EXPECT_EQ(out, l + p);
    }
  }
}

#ifndef NDEBUG
// Out-of-range lane ids / priorities are a precondition violation, caught by
// an assert in debug builds (undefined behaviour in release builds).
TEST(MultiMpscQueueDeathTest, OutOfRangeLaneAssertsInDebug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Holder q(2, 2, 4);
  EXPECT_DEATH(q->GetLane(2, 0), "lane_id < num_lanes_");
  EXPECT_DEATH(q->GetLane(0, 2), "prio < num_prios_");
}
#endif

// A consumer that serves high priority first sees high-priority items before
// low-priority ones, whatever the push order.
TEST(MultiMpscQueue, PrioritiesAreSeparateLanes) {
  constexpr u32 kLow = 0, kHigh = 1;
  Holder q(1, 2, 16);
  for (u64 i = 0; i < 6; ++i) {
    ASSERT_EQ(q->GetLane(0, (i % 2) ? kHigh : kLow).Push(i), QueueStatus::kOk);
  }
  std::vector<u64> order;
  for (u32 prio : {kHigh, kLow}) {
    u64 out;
    while (q->GetLane(0, prio).Pop(out) == QueueStatus::kOk) order.push_back(out);
  }
  EXPECT_EQ(order, (std::vector<u64>{1, 3, 5, 0, 2, 4}));
}

// Producer threads on different lanes, one consumer per lane.
TEST(MultiMpscQueue, ConcurrentLanes) {
#if defined(__SANITIZE_THREAD__)
  constexpr u64 kItems = 20000;
#else
  constexpr u64 kItems = 100000;
#endif
  constexpr u32 kLanes = 2, kPrios = 2;
  Holder q(kLanes, kPrios, 64);
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) {
      threads.emplace_back([&, l, p] {  // producer
        for (u64 i = 0; i < kItems; ++i) {
          while (q->GetLane(l, p).Push(i) == QueueStatus::kFull) std::this_thread::yield();
        }
      });
    }
  }
  // This thread consumes every lane round-robin.
  std::vector<u64> next(kLanes * kPrios, 0);
  u64 done = 0;
  // Keeps draining after a failure so producers never block on a full lane.
  while (done < kLanes * kPrios * kItems) {
    for (u32 p = 0; p < kPrios; ++p) {
      for (u32 l = 0; l < kLanes; ++l) {
        u64 out;
        for (int burst = 0; burst < 64 && q->GetLane(l, p).Pop(out) == QueueStatus::kOk; ++burst) {
          u64 &n = next[p * kLanes + l];
          if (out != n) failed = true;
          ++n;
          ++done;
        }
      }
    }
    std::this_thread::yield();
  }
  for (auto &t : threads) t.join();
  EXPECT_FALSE(failed);
  for (u64 n : next) EXPECT_EQ(n, kItems);
}

}  // namespace
