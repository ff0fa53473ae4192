// Tests of FutexWait/FutexWake (futex.h) and EventCount (event_count.h),
// within a process (threads) and across fork()ed processes (MAP_SHARED word).
// Test-harness atomics use the seq_cst defaults unless a comment says otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <thread>
#include <vector>

#include "chimaera/ipc/event_count.h"
#include "chimaera/ipc/futex.h"

namespace {

using hipc::EventCount;
using hipc::FutexStatus;
using hipc::FutexWait;
using hipc::FutexWake;
using hipc::u32;
using hipc::u64;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

TEST(Futex, WaitReturnsValueChangedWhenValueDiffers) {
  std::atomic<u32> word{7};
  const auto t0 = Clock::now();
  EXPECT_EQ(FutexWait(word, 8, hipc::kWaitForever), FutexStatus::kValueChanged);
  EXPECT_LT(SecondsSince(t0), 1.0);
}

TEST(Futex, WaitTimesOut) {
  std::atomic<u32> word{0};
  const auto t0 = Clock::now();
  EXPECT_EQ(FutexWait(word, 0, 20000 /* us */), FutexStatus::kTimedOut);
  const double s = SecondsSince(t0);
  EXPECT_GE(s, 0.019);
  EXPECT_LT(s, 2.0);
}

TEST(Futex, WakeWithNobodyWaitingWakesNobody) {
  std::atomic<u32> word{0};
  EXPECT_EQ(FutexWake(word, 1), 0);
}

// The word keeps its value, so only a FutexWake can end the wait before the
// 10 s timeout. The main thread wakes until the kernel reports one waiter woken.
TEST(Futex, ThreadWokenByFutexWake) {
  std::atomic<u32> word{0};
  std::atomic<int> status{-1};
  std::thread waiter([&] { status = static_cast<int>(FutexWait(word, 0, 10 * 1000 * 1000)); });
  const auto t0 = Clock::now();
  int woken = 0;
  while (woken == 0 && SecondsSince(t0) < 5.0) {
    woken = FutexWake(word, 1);
    if (woken == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  waiter.join();
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(status.load(), static_cast<int>(FutexStatus::kWoken));
  EXPECT_LT(SecondsSince(t0), 5.0);
}

// Two threads ping-pong through two EventCounts, each parking on its
// condition when it is false. A lost wakeup would leave one side asleep until
// its (long) timeout, which we count as a failure.
TEST(EventCount, NoLostWakeupPingPong) {
#if defined(__SANITIZE_THREAD__)
  constexpr u32 kRounds = 5000;
#else
  constexpr u32 kRounds = 20000;
#endif
  constexpr hipc::i64 kTimeoutUs = 5 * 1000 * 1000;
  EventCount ping_ec, pong_ec;
  std::atomic<u32> ping{0}, pong{0};
  std::atomic<u32> timeouts{0};
  // Park until `word` reaches `target`, via `ec`, with the documented protocol.
  auto wait_for = [&](EventCount &ec, std::atomic<u32> &word, u32 target) {
    // acquire: the condition read pairs with the notifier's release store.
    while (word.load(std::memory_order_acquire) < target) {
      const u32 key = ec.PrepareWait();
      if (word.load(std::memory_order_acquire) >= target) {
        ec.CancelWait();
        break;
      }
      if (ec.Wait(key, kTimeoutUs) == FutexStatus::kTimedOut) timeouts.fetch_add(1);
    }
  };
  std::thread ponger([&] {
    for (u32 i = 1; i <= kRounds; ++i) {
      wait_for(ping_ec, ping, i);
      pong.store(i, std::memory_order_release);  // release: publishes the round
      pong_ec.Notify();
    }
  });
  for (u32 i = 1; i <= kRounds; ++i) {
    ping.store(i, std::memory_order_release);  // release: publishes the round
    ping_ec.Notify();
    wait_for(pong_ec, pong, i);
  }
  ponger.join();
  EXPECT_EQ(timeouts.load(), 0u);
  EXPECT_EQ(pong.load(), kRounds);
  EXPECT_EQ(ping_ec.Waiters(), 0u);
  EXPECT_EQ(pong_ec.Waiters(), 0u);
}

// Several waiters park on one EventCount while a notifier raises a counter
// step by step; every waiter must observe the final value without timing out.
TEST(EventCount, NoLostWakeupManyWaiters) {
#if defined(__SANITIZE_THREAD__)
  constexpr u32 kSteps = 2000;
#else
  constexpr u32 kSteps = 10000;
#endif
  constexpr int kWaiters = 3;
  EventCount ec;
  std::atomic<u32> counter{0};
  std::atomic<u32> acked[kWaiters] = {};
  EventCount ack_ec;
  std::atomic<u32> timeouts{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < kWaiters; ++w) {
    waiters.emplace_back([&, w] {
      for (u32 step = 1; step <= kSteps; ++step) {
        while (counter.load(std::memory_order_acquire) < step) {
          const u32 key = ec.PrepareWait();
          if (counter.load(std::memory_order_acquire) >= step) {
            ec.CancelWait();
            break;
          }
          if (ec.Wait(key, 5 * 1000 * 1000) == FutexStatus::kTimedOut) timeouts.fetch_add(1);
        }
        acked[w].store(step, std::memory_order_release);  // release: ack the step
        ack_ec.Notify();
      }
    });
  }
  auto all_acked = [&](u32 step) {
    for (auto &a : acked) {
      if (a.load(std::memory_order_acquire) < step) return false;
    }
    return true;
  };
  for (u32 step = 1; step <= kSteps; ++step) {
    counter.store(step, std::memory_order_release);  // release: the new step
    ec.Notify();
    while (!all_acked(step)) {
      const u32 key = ack_ec.PrepareWait();
      if (all_acked(step)) {
        ack_ec.CancelWait();
        break;
      }
      if (ack_ec.Wait(key, 5 * 1000 * 1000) == FutexStatus::kTimedOut) timeouts.fetch_add(1);
    }
  }
  for (auto &t : waiters) t.join();
  EXPECT_EQ(timeouts.load(), 0u);
}

/** Shared between a parent and a fork()ed child. */
struct CrossProcessBlock {
  EventCount ec;
  std::atomic<u32> flag{0};
  std::atomic<u32> raw_word{0};
};

// A child parks on an EventCount in a MAP_SHARED page; the parent wakes it.
// The child's wait has a 5 s timeout: a wakeup that does not cross processes
// shows up as a late exit with code 1.
TEST(EventCount, CrossProcessWake) {
  void *mem = mmap(nullptr, sizeof(CrossProcessBlock), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto *blk = new (mem) CrossProcessBlock();
  alarm(60);  // hard timeout beside the ctest TIMEOUT
  const pid_t parent = getpid();
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(3);
    int timeouts = 0;
    // acquire: pairs with the parent's release store of flag.
    while (blk->flag.load(std::memory_order_acquire) == 0) {
      const u32 key = blk->ec.PrepareWait();
      if (blk->flag.load(std::memory_order_acquire) != 0) {
        blk->ec.CancelWait();
        break;
      }
      if (blk->ec.Wait(key, 5 * 1000 * 1000) == FutexStatus::kTimedOut) ++timeouts;
    }
    // Then a raw futex wait on a word the parent changes and wakes.
    FutexStatus st = FutexStatus::kWoken;
    while (blk->raw_word.load(std::memory_order_acquire) == 0) {
      st = FutexWait(blk->raw_word, 0, 5 * 1000 * 1000);
      if (st == FutexStatus::kTimedOut) ++timeouts;
    }
    _exit(timeouts == 0 ? 0 : 1);
  }
  // Let the child park (Waiters() > 0 once it is inside PrepareWait..Wait).
  while (blk->ec.Waiters() == 0 && SecondsSince(t0) < 5.0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(blk->ec.Waiters(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // likely asleep in the kernel
  blk->flag.store(1, std::memory_order_release);  // release: the condition
  blk->ec.Notify();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  blk->raw_word.store(1, std::memory_order_release);  // release: the condition
  FutexWake(blk->raw_word, 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  alarm(0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(SecondsSince(t0), 4.0);
  munmap(mem, sizeof(CrossProcessBlock));
}

}  // namespace
