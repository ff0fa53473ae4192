// Multi-process tests of MpscQueue and MultiMpscQueue: fork()ed producer
// processes push into a queue in a MAP_SHARED memfd region, the parent is the
// single consumer. Each child maps the region again, at another address, and
// uses only that second mapping: the queue must hold no raw pointers.
// Independent of the Segment class on purpose.
// Test-harness atomics use the seq_cst defaults unless a comment says otherwise.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <vector>

#include "chimaera/ipc/mpsc_queue.h"
#include "chimaera/ipc/multi_mpsc_queue.h"

namespace {

using hipc::MpscQueue;
using hipc::MultiMpscQueue;
using hipc::QueueStatus;
using hipc::u32;
using hipc::u64;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr u64 kItemsPerProducer = 50000;
#else
constexpr u64 kItemsPerProducer = 200000;
#endif
constexpr u32 kProducers = 4;
constexpr unsigned kHardTimeoutSec = 60;  // below the ctest TIMEOUT

constexpr u64 MakeItem(u64 producer, u64 seq) { return (producer << 48) | seq; }
constexpr u64 ItemProducer(u64 item) { return item >> 48; }
constexpr u64 ItemSeq(u64 item) { return item & ((u64{1} << 48) - 1); }

void OnHardTimeout(int) {
  static const char kMsg[] = "test_queue_multiprocess: hard timeout (alarm) expired\n";
  (void)!write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
  _exit(124);  // children die with us through PR_SET_PDEATHSIG
}

/** Arms alarm() for the duration of a test: a hang fails fast and loudly. */
class HardTimeout {
 public:
  HardTimeout() {
    signal(SIGALRM, OnHardTimeout);
    alarm(kHardTimeoutSec);
  }
  ~HardTimeout() { alarm(0); }
};

/** A shared memfd region: mapped once in the parent; children map it again. */
class SharedRegion {
 public:
  explicit SharedRegion(std::size_t bytes) : bytes_(bytes) {
    fd_ = memfd_create("chi_test_queue_mp", 0);
    if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) return;
    void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p != MAP_FAILED) base_ = static_cast<char *>(p);
  }
  ~SharedRegion() {
    if (base_ != nullptr) munmap(base_, bytes_);
    if (fd_ >= 0) close(fd_);
  }
  SharedRegion(const SharedRegion &) = delete;
  SharedRegion &operator=(const SharedRegion &) = delete;
  char *base() const { return base_; }
  /** In a child: a second mapping of the same memory at a new address. */
  char *MapAgain() const {
    void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    return p == MAP_FAILED || p == base_ ? nullptr : static_cast<char *>(p);
  }

 private:
  std::size_t bytes_;
  int fd_ = -1;
  char *base_ = nullptr;
};

/** fork() a child running body() (returns its exit code); the child dies
 * with the parent and never returns into GoogleTest. */
template <typename Body>
pid_t ForkChild(Body body) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(3);  // parent already gone
    _exit(body());
  }
  return pid;
}

/** waitpid every child; expect a normal exit with status 0. */
void ExpectChildrenExitedCleanly(const std::vector<pid_t> &pids) {
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "child " << pid << " status " << status;
    if (WIFEXITED(status)) {
      EXPECT_EQ(WEXITSTATUS(status), 0) << "child " << pid;
    }
  }
}

/** Consumer-side watchdog: true once no item has arrived for kStallSec, in
 * which case the children are killed and reaped (the test then fails with a
 * message instead of waiting for the alarm). Call on every empty poll. */
class StallDetector {
 public:
  static constexpr unsigned kStallSec = 20;
  explicit StallDetector(const std::vector<pid_t> &pids) : pids_(pids) {}
  void Progress() { polls_ = 0, last_ = time(nullptr); }
  bool Stalled() {
    if (++polls_ % 4096 != 0 || time(nullptr) - last_ < kStallSec) return false;
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
    return true;
  }

 private:
  const std::vector<pid_t> &pids_;
  u64 polls_ = 0;
  time_t last_ = time(nullptr);
};

template <typename Q>
void PushOrYield(Q &q, u64 item) {
  while (q.Push(item) == QueueStatus::kFull) sched_yield();
}

TEST(QueueMultiProcess, ForkedProducersExactlyOnceInOrder) {
  HardTimeout timeout;
  constexpr u32 kDepth = 1024;
  SharedRegion region(MpscQueue<u64>::SizeOf(kDepth));
  ASSERT_NE(region.base(), nullptr);
  auto *q = new (region.base()) MpscQueue<u64>(kDepth);

  std::vector<pid_t> pids;
  for (u32 p = 0; p < kProducers; ++p) {
    pid_t pid = ForkChild([&region, p]() -> int {
      char *mine = region.MapAgain();
      if (mine == nullptr) return 2;
      auto *cq = std::launder(reinterpret_cast<MpscQueue<u64> *>(mine));
      for (u64 i = 0; i < kItemsPerProducer; ++i) PushOrYield(*cq, MakeItem(p, i));
      return 0;
    });
    ASSERT_GT(pid, 0) << std::strerror(errno);
    pids.push_back(pid);
  }

  std::vector<u64> next(kProducers, 0);
  u64 received = 0, bad = 0;
  StallDetector watchdog(pids);
  while (received < kProducers * kItemsPerProducer) {
    u64 item;
    if (q->Pop(item) != QueueStatus::kOk) {
      ASSERT_FALSE(watchdog.Stalled()) << "no item for " << StallDetector::kStallSec
                                       << " s after " << received;
      sched_yield();
      continue;
    }
    watchdog.Progress();
    ++received;
    const u64 p = ItemProducer(item);
    if (p >= kProducers || ItemSeq(item) != next[p]) {
      if (bad++ < 5) ADD_FAILURE() << "item " << ItemSeq(item) << " from " << p;
      continue;  // keep draining so producers can finish
    }
    ++next[p];
  }
  ExpectChildrenExitedCleanly(pids);
  EXPECT_EQ(bad, 0u);
  for (u32 p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kItemsPerProducer) << p;
  u64 extra;
  EXPECT_EQ(q->Pop(extra), QueueStatus::kEmpty);
  EXPECT_EQ(q->Size(), 0u);
}

// The multi-lane variant: each producer spreads its items over every lane and
// priority; each producer also stamps the header of "its" lane.
struct MpLaneHeader {
  std::atomic<u32> stamp_{0};
  u32 worker_id_ = 0;
};

TEST(QueueMultiProcess, ForkedProducersMultiLane) {
  HardTimeout timeout;
  constexpr u32 kLanes = 2, kPrios = 2, kDepth = 256;
  static_assert(kLanes * kPrios == kProducers, "one header per producer");
  using Q = MultiMpscQueue<u64, MpLaneHeader>;
  SharedRegion region(Q::SizeOf(kLanes, kPrios, kDepth));
  ASSERT_NE(region.base(), nullptr);
  auto *q = new (region.base()) Q(kLanes, kPrios, kDepth);
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) q->GetLane(l, p).Header().worker_id_ = 100 + l + p * kLanes;
  }

  std::vector<pid_t> pids;
  for (u32 p = 0; p < kProducers; ++p) {
    pid_t pid = ForkChild([&region, p]() -> int {
      char *mine = region.MapAgain();
      if (mine == nullptr) return 2;
      auto *cq = std::launder(reinterpret_cast<Q *>(mine));
      auto &own = cq->GetLane(p % kLanes, p / kLanes);
      if (own.Header().worker_id_ != 100 + p) return 4;  // parent's header visible
      // release: the parent reads the stamp after waitpid; ordering is moot
      // across processes after exit, but this keeps the protocol honest.
      own.Header().stamp_.store(p + 1, std::memory_order_release);
      for (u64 i = 0; i < kItemsPerProducer; ++i) {
        const u32 lane = static_cast<u32>(i % kLanes), prio = static_cast<u32>((i / kLanes) % kPrios);
        PushOrYield(cq->GetLane(lane, prio), MakeItem(p, i));
      }
      return 0;
    });
    ASSERT_GT(pid, 0) << std::strerror(errno);
    pids.push_back(pid);
  }

  // Per (producer, lane): the sequence numbers it sent there, in order.
  std::vector<u64> last(kProducers * kLanes * kPrios, ~u64{0});
  u64 received = 0, bad = 0;
  StallDetector watchdog(pids);
  while (received < kProducers * kItemsPerProducer) {
    bool any = false;
    for (u32 prio = 0; prio < kPrios; ++prio) {
      for (u32 lane = 0; lane < kLanes; ++lane) {
        u64 item;
        for (int burst = 0; burst < 64 && q->GetLane(lane, prio).Pop(item) == QueueStatus::kOk;
             ++burst) {
          any = true;
          ++received;
          const u64 p = ItemProducer(item), seq = ItemSeq(item);
          const bool right_lane = seq % kLanes == lane && (seq / kLanes) % kPrios == prio;
          u64 &l = last[(p * kPrios + prio) * kLanes + lane];
          if (p >= kProducers || !right_lane || (l != ~u64{0} && seq <= l)) {
            if (bad++ < 5) ADD_FAILURE() << "item " << seq << " from " << p << " lane " << lane;
            continue;
          }
          if (l == ~u64{0} ? seq >= kLanes * kPrios : seq != l + kLanes * kPrios) {
            if (bad++ < 5) ADD_FAILURE() << "gap before " << seq << " from " << p;
          }
          l = seq;
        }
      }
    }
    if (any) {
      watchdog.Progress();
    } else {
      ASSERT_FALSE(watchdog.Stalled()) << "no item for " << StallDetector::kStallSec
                                       << " s after " << received;
      sched_yield();
    }
  }
  ExpectChildrenExitedCleanly(pids);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(received, kProducers * kItemsPerProducer);
  for (u32 p = 0; p < kPrios; ++p) {
    for (u32 l = 0; l < kLanes; ++l) {
      auto &lane = q->GetLane(l, p);
      EXPECT_TRUE(lane.IsEmpty());
      // acquire: pairs with the child's release store (see above).
      EXPECT_EQ(lane.Header().stamp_.load(std::memory_order_acquire), l + p * kLanes + 1);
    }
  }
}

}  // namespace

// A producer killed between claiming a slot and publishing it (DESIGN.md §8:
// a dead client must not stop the runtime): other producers get past the
// claimed slot, and the consumer skips it once - and only once - its
// claimant is dead.
namespace {
using chi::ipc::MpscQueue;
using chi::ipc::QueueStatus;

struct QueueMem {
  explicit QueueMem(chi::u32 depth) {
    mem = static_cast<char *>(aligned_alloc(64, MpscQueue<chi::u64>::SizeOf(depth)));
    q = new (mem) MpscQueue<chi::u64>(depth);
  }
  ~QueueMem() { free(mem); }
  char *mem;
  MpscQueue<chi::u64> *q;
};

TEST(MpscQueueDeadProducer, SkipsOnlyADeadClaimant) {
  QueueMem m(8);
  auto &q = *m.q;
  chi::u64 out = 0;
  ASSERT_EQ(q.Push(1), QueueStatus::kOk);
  const chi::u32 ghost = 4000000;  // a pid above pid_max: never alive
  ASSERT_TRUE(q.ClaimWithoutPublishForTesting(ghost, /*advance_tail=*/false));  // died before moving tail_
  ASSERT_EQ(q.Push(2), QueueStatus::kOk);  // helps tail_ past the claimed slot
  ASSERT_EQ(q.Push(3), QueueStatus::kOk);
  ASSERT_EQ(q.Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, 1u);
  EXPECT_EQ(q.Pop(out), QueueStatus::kEmpty);  // stuck at the claimed slot
  EXPECT_FALSE(q.RecoverDeadProducer([](chi::u32) { return false; }));  // claimant alive: wait
  EXPECT_EQ(q.Pop(out), QueueStatus::kEmpty);
  EXPECT_TRUE(q.RecoverDeadProducer([&](chi::u32 pid) { return pid == ghost; }));
  EXPECT_FALSE(q.RecoverDeadProducer([](chi::u32) { return true; }));  // nothing claimed at head now
  ASSERT_EQ(q.Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, 2u);
  ASSERT_EQ(q.Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, 3u);
  // The skipped slot is reusable on the next laps.
  for (chi::u64 i = 0; i < 40; ++i) {
    ASSERT_EQ(q.Push(i), QueueStatus::kOk);
    ASSERT_EQ(q.Pop(out), QueueStatus::kOk);
    ASSERT_EQ(out, i);
  }
}

TEST(MpscQueueDeadProducer, RealProcessKilledMidPushIsRecovered) {
  void *shm = mmap(nullptr, MpscQueue<chi::u64>::SizeOf(16), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shm, MAP_FAILED);
  auto *q = new (shm) MpscQueue<chi::u64>(16);
  pid_t child = fork();
  if (child == 0) {
    q->ClaimWithoutPublishForTesting(chi::ipc::ThisProcessId());  // claims with ITS pid, then "dies"
    _exit(0);
  }
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  ASSERT_EQ(q->Push(7), QueueStatus::kOk);
  chi::u64 out = 0;
  EXPECT_EQ(q->Pop(out), QueueStatus::kEmpty);
  EXPECT_FALSE(q->RecoverDeadProducer([](chi::u32 pid) { return !chi::ipc::IsProcessDead(pid); }));
  EXPECT_TRUE(q->RecoverDeadProducer([](chi::u32 pid) { return chi::ipc::IsProcessDead(pid); }));
  ASSERT_EQ(q->Pop(out), QueueStatus::kOk);
  EXPECT_EQ(out, 7u);
  munmap(shm, MpscQueue<chi::u64>::SizeOf(16));
}
}  // namespace

namespace {
// The dead producer never moved tail_ and nobody pushed after it: recovery
// must leave an empty queue (Size 0), not a wrapped-around one.
TEST(MpscQueueDeadProducer, RecoveryMovesTailForALoneDeadClaim) {
  QueueMem m(4);
  auto &q = *m.q;
  const chi::u32 ghost = 4000001;
  ASSERT_TRUE(q.ClaimWithoutPublishForTesting(ghost, /*advance_tail=*/false));
  EXPECT_TRUE(q.RecoverDeadProducer([&](chi::u32 pid) { return pid == ghost; }));
  EXPECT_EQ(q.Size(), 0u);
  EXPECT_TRUE(q.IsEmpty());
  EXPECT_FALSE(q.RecoverDeadProducer([](chi::u32) { return true; }));  // free slots are not claims
  chi::u64 out = 0;
  for (chi::u64 i = 0; i < 20; ++i) {
    ASSERT_EQ(q.Push(i), QueueStatus::kOk);
    ASSERT_EQ(q.Pop(out), QueueStatus::kOk);
    ASSERT_EQ(out, i);
  }
  EXPECT_TRUE(q.IsEmpty());
}
}  // namespace
