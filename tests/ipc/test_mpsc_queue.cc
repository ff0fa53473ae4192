// Unit and multi-threaded tests of hipc::MpscQueue (mpsc_queue.h).
// Multi-process tests live in test_queue_multiprocess.cc.
// Test-harness atomics use the seq_cst defaults: their ordering is not under test.
#include "chimaera/ipc/mpsc_queue.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "chimaera/ipc/pointer.h"

namespace {

using hipc::MpscQueue;
using hipc::QueueStatus;
using hipc::u32;
using hipc::u64;

/** Owns kCacheLineBytes-aligned memory holding a queue built with placement new,
 * as the runtime does in shared memory. */
template <typename T>
class QueueHolder {
 public:
  explicit QueueHolder(u32 depth)
      : bytes_(MpscQueue<T>::SizeOf(depth)),
        mem_(static_cast<char *>(
            ::operator new(bytes_, std::align_val_t{hipc::kCacheLineBytes}))) {
    std::fill(mem_, mem_ + bytes_, static_cast<char>(0xA5));  // garbage, not zeros
    q_ = new (mem_) MpscQueue<T>(depth);
  }
  ~QueueHolder() { ::operator delete(mem_, std::align_val_t{hipc::kCacheLineBytes}); }
  QueueHolder(const QueueHolder &) = delete;
  QueueHolder &operator=(const QueueHolder &) = delete;
  MpscQueue<T> &operator*() { return *q_; }
  MpscQueue<T> *operator->() { return q_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t bytes_;
  char *mem_;
  MpscQueue<T> *q_;
};

TEST(MpscQueue, PopOnEmptyReturnsEmptyAndLeavesOutUntouched) {
  QueueHolder<u64> q(8);
  u64 out = 42;
  EXPECT_EQ(q->Pop(out), QueueStatus::kEmpty);
  EXPECT_EQ(q->Peek(out), QueueStatus::kEmpty);
  EXPECT_EQ(out, 42u);
  EXPECT_TRUE(q->IsEmpty());
  EXPECT_EQ(q->Size(), 0u);
}

TEST(MpscQueue, PushUntilFullThenFull) {
  QueueHolder<u64> q(16);
  ASSERT_EQ(q->Capacity(), 16u);
  for (u64 i = 0; i < 16; ++i) {
    ASSERT_EQ(q->Push(i), QueueStatus::kOk) << i;
    EXPECT_EQ(q->Size(), i + 1);
  }
  EXPECT_EQ(q->Push(99), QueueStatus::kFull);
  EXPECT_EQ(q->Push(99), QueueStatus::kFull);
  EXPECT_EQ(q->Size(), 16u);
  u64 out = 0;
  ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, 0u);
  EXPECT_EQ(q->Push(16), QueueStatus::kOk);  // one slot freed -> one push fits
  EXPECT_EQ(q->Push(17), QueueStatus::kFull);
  for (u64 i = 1; i <= 16; ++i) {
    ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
    EXPECT_EQ(out, i);
  }
  EXPECT_EQ(q->Pop(out), QueueStatus::kEmpty);
}

TEST(MpscQueue, FifoOrderAndPeek) {
  QueueHolder<u64> q(64);
  for (u64 i = 0; i < 50; ++i) ASSERT_EQ(q->Push(i * 7), QueueStatus::kOk);
  for (u64 i = 0; i < 50; ++i) {
    u64 peeked = 0, popped = 0;
    ASSERT_EQ(q->Peek(peeked), QueueStatus::kOk);
    ASSERT_EQ(q->Pop(popped), QueueStatus::kOk);
    EXPECT_EQ(peeked, i * 7);
    EXPECT_EQ(popped, i * 7);
  }
  EXPECT_TRUE(q->IsEmpty());
}

TEST(MpscQueue, WrapAroundManyLaps) {
  QueueHolder<u64> q(8);
  u64 next_push = 0, next_pop = 0;
  // 1000 laps with varying fill levels so every slot sees every phase.
  for (int round = 0; round < 2000; ++round) {
    const int n = 1 + round % 8;
    for (int i = 0; i < n; ++i) ASSERT_EQ(q->Push(next_push++), QueueStatus::kOk);
    EXPECT_EQ(q->Size(), static_cast<u64>(n));
    for (int i = 0; i < n; ++i) {
      u64 out = 0;
      ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
      ASSERT_EQ(out, next_pop++);
    }
  }
  EXPECT_GT(next_push, 8u * 1000);
  u64 out;
  EXPECT_EQ(q->Pop(out), QueueStatus::kEmpty);
}

TEST(MpscQueue, SizeOfAndDepthRounding) {
  using Q = MpscQueue<u64>;
  EXPECT_EQ(Q::RoundDepth(0), 1u);  // depth 0 is treated as 1
  EXPECT_EQ(Q::RoundDepth(1), 1u);
  EXPECT_EQ(Q::RoundDepth(2), 2u);
  EXPECT_EQ(Q::RoundDepth(3), 4u);
  EXPECT_EQ(Q::RoundDepth(1000), 1024u);
  EXPECT_EQ(Q::RoundDepth(1024), 1024u);
  EXPECT_EQ(Q::RoundDepth(Q::kMaxDepth), Q::kMaxDepth);
  EXPECT_EQ(Q::RoundDepth(Q::kMaxDepth + 1), Q::kMaxDepth);
  EXPECT_EQ(Q::RoundDepth(0xFFFFFFFFu), Q::kMaxDepth);

  EXPECT_EQ(Q::SizeOf(0), Q::SizeOf(1));
  EXPECT_EQ(Q::SizeOf(3), Q::SizeOf(4));
  EXPECT_LT(Q::SizeOf(4), Q::SizeOf(5));
  for (u32 d : {0u, 1u, 2u, 3u, 7u, 100u, 4096u}) {
    EXPECT_EQ(Q::SizeOf(d) % hipc::kCacheLineBytes, 0u) << d;
    // header + one u64 sequence + one u64 item per slot, at least
    EXPECT_GE(Q::SizeOf(d), sizeof(Q) + Q::RoundDepth(d) * 16u) << d;
  }
  EXPECT_EQ(sizeof(Q) % hipc::kCacheLineBytes, 0u);
  EXPECT_EQ(alignof(Q), hipc::kCacheLineBytes);
  // Pointer items (16 bytes) need more room per slot than u64 items.
  EXPECT_GT(MpscQueue<hipc::Pointer>::SizeOf(1024), Q::SizeOf(1024));

  QueueHolder<u64> q0(0);
  EXPECT_EQ(q0->Capacity(), 1u);
  QueueHolder<u64> q5(5);
  EXPECT_EQ(q5->Capacity(), 8u);
}

TEST(MpscQueue, CapacityOne) {
  QueueHolder<u64> q(1);
  ASSERT_EQ(q->Capacity(), 1u);
  for (u64 i = 0; i < 1000; ++i) {
    ASSERT_EQ(q->Push(i), QueueStatus::kOk);
    ASSERT_EQ(q->Push(i), QueueStatus::kFull);
    EXPECT_EQ(q->Size(), 1u);
    u64 out = 0;
    ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
    ASSERT_EQ(out, i);
    ASSERT_EQ(q->Pop(out), QueueStatus::kEmpty);
  }
}

TEST(MpscQueue, CarriesShmPointers) {
  QueueHolder<hipc::Pointer> q(4);
  const hipc::Pointer a(hipc::AllocatorId(3), 4096), b(hipc::AllocatorId(7), u64{1} << 40);
  ASSERT_EQ(q->Push(a), QueueStatus::kOk);
  ASSERT_EQ(q->Push(b), QueueStatus::kOk);
  hipc::Pointer out;
  ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, a);
  ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, b);
}

// The queue must work when mapped at a different address in each process
// (no raw pointer inside): map one memfd twice, push through one mapping and
// pop through the other.
TEST(MpscQueue, WorksThroughTwoMappingsAtDifferentAddresses) {
  const std::size_t bytes = MpscQueue<u64>::SizeOf(8);
  const int fd = memfd_create("chi_test_mpsc", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  void *a = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void *b = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(a, MAP_FAILED);
  ASSERT_NE(b, MAP_FAILED);
  ASSERT_NE(a, b);
  auto *qa = new (a) MpscQueue<u64>(8);
  auto *qb = std::launder(reinterpret_cast<MpscQueue<u64> *>(b));
  for (u64 lap = 0; lap < 3; ++lap) {
    for (u64 i = 0; i < 8; ++i) ASSERT_EQ(qa->Push(lap * 100 + i), QueueStatus::kOk);
    EXPECT_EQ(qa->Push(0), QueueStatus::kFull);
    EXPECT_EQ(qb->Size(), 8u);
    EXPECT_EQ(qb->Capacity(), 8u);
    for (u64 i = 0; i < 8; ++i) {
      u64 out = 0;
      ASSERT_EQ(qb->Pop(out), QueueStatus::kOk);
      EXPECT_EQ(out, lap * 100 + i);
    }
    u64 out;
    EXPECT_EQ(qa->Pop(out), QueueStatus::kEmpty);
  }
  munmap(a, bytes);
  munmap(b, bytes);
}

// 4 producer threads + 1 consumer: every item exactly once, and each
// producer's items in the order it pushed them.
void RunThreadedProducers(u32 depth, u64 per_producer) {
  constexpr u32 kProducers = 4;
  QueueHolder<u64> q(depth);
  std::atomic<u32> started{0};
  std::atomic<u64> full_retries{0};
  std::vector<std::thread> producers;
  for (u32 p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      started.fetch_add(1);
      while (started.load() < kProducers) std::this_thread::yield();
      u64 retries = 0;
      for (u64 i = 0; i < per_producer; ++i) {
        const u64 item = (u64{p} << 48) | i;
        while (q->Push(item) == QueueStatus::kFull) {
          ++retries;
          std::this_thread::yield();
        }
      }
      full_retries.fetch_add(retries);
    });
  }
  std::vector<u64> next(kProducers, 0);
  u64 received = 0;
  bool ok = true;
  while (received < kProducers * per_producer && ok) {
    u64 item;
    if (q->Pop(item) != QueueStatus::kOk) {
      std::this_thread::yield();
      continue;
    }
    const u64 p = item >> 48, seq = item & ((u64{1} << 48) - 1);
    if (p >= kProducers || seq != next[p]) {
      ADD_FAILURE() << "producer " << p << " item " << seq << " expected " << next[p];
      ok = false;
      break;
    }
    ++next[p];
    ++received;
  }
  for (auto &t : producers) t.join();
  ASSERT_TRUE(ok);
  for (u32 p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], per_producer);
  u64 extra;
  EXPECT_EQ(q->Pop(extra), QueueStatus::kEmpty);
  EXPECT_EQ(q->Size(), 0u);
}

#if defined(__SANITIZE_THREAD__)
constexpr u64 kItemsPerProducer = 20000;
#else
constexpr u64 kItemsPerProducer = 200000;
#endif

TEST(MpscQueue, FourProducerThreadsExactlyOnceInOrder) {
  RunThreadedProducers(1024, kItemsPerProducer);
}

// A tiny queue makes producers hit kFull constantly: the full path races the
// consumer's head updates.
TEST(MpscQueue, FourProducerThreadsTinyQueue) { RunThreadedProducers(2, kItemsPerProducer / 4); }

}  // namespace
