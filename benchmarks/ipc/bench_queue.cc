// Benchmarks of hipc::MpscQueue (mpsc_queue.h).
//
//  BM_ThroughputProcess<T>/depth  one producer process (core 0) -> consumer
//                                 process (core 1), items/s
//  BM_ThroughputThread<T>/depth   the same with two threads of one process
//  BM_RoundTripProcess/depth      ping queue -> pong queue -> back, across
//                                 processes; median / p99 per round trip (ns)
//  BM_RoundTripThread/depth       the same with two threads
//
// Every benchmark reports the plain two-thread ping-pong before and after it
// (pingpong_before_ns / pingpong_after_ns, see calibration.h): this VM's
// core-to-core latency flips between ~110 ns and ~550 ns states by itself.
// Targets (2-core VM): round trip median < 1 us, throughput > 10 M items/s.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <new>
#include <thread>
#include <vector>

#include "calibration.h"
#include "chimaera/ipc/mpsc_queue.h"
#include "chimaera/ipc/pointer.h"

namespace {

using chi::bench::CpuRelax;
using hipc::MpscQueue;
using hipc::QueueStatus;
using hipc::u32;
using hipc::u64;

constexpr int kCalibrationIters = 20000;
constexpr u64 kItemsPerRound = u64{1} << 20;
constexpr u32 kStop = 0xFFFFFFFFu;
constexpr int kProducerCore = 0, kConsumerCore = 1;

/** Anonymous shared memory (inherited across fork), unmapped on scope exit. */
class SharedMem {
 public:
  explicit SharedMem(std::size_t bytes) : bytes_(bytes) {
    void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<char *>(p);
  }
  ~SharedMem() {
    if (base_ != nullptr) munmap(base_, bytes_);
  }
  SharedMem(const SharedMem &) = delete;
  SharedMem &operator=(const SharedMem &) = delete;
  char *base() const { return base_; }

 private:
  std::size_t bytes_;
  char *base_;
};

/** Round control shared by the benchmark (consumer) and the producer. */
struct alignas(hipc::kCacheLineBytes) Control {
  std::atomic<u32> ready{0};  // producer is pinned and spinning
  std::atomic<u32> round{0};  // round to produce; kStop ends the producer
};

/** Runs `body` in a fork()ed child (dies with the parent); returns its pid. */
pid_t ForkChild(const std::function<void()> &body) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(3);
    body();
    _exit(0);
  }
  return pid;
}

bool WaitChild(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

template <typename T>
T MakeItem(u64 i) {
  if constexpr (std::is_same_v<T, hipc::Pointer>) {
    return hipc::Pointer(hipc::AllocatorId(1), i + 1);
  } else {
    return static_cast<T>(i);
  }
}

/** Producer side of the throughput benchmarks: per round, push kItemsPerRound
 * items, spinning on kFull. */
template <typename T>
void ProduceRounds(Control &ctl, MpscQueue<T> &q) {
  chi::bench::PinThisThreadToCore(kProducerCore);
  ctl.ready.store(1, std::memory_order_release);  // release: trivially, a flag
  u32 done = 0;
  for (;;) {
    u32 r;
    // acquire: pairs with the consumer's release store of the next round.
    while ((r = ctl.round.load(std::memory_order_acquire)) == done) CpuRelax();
    if (r == kStop) return;
    for (u64 i = 0; i < kItemsPerRound; ++i) {
      const T item = MakeItem<T>(i);
      while (q.Push(item) == QueueStatus::kFull) CpuRelax();
    }
    done = r;
  }
}

/** Consumer side: start each round and pop its items; returns false if an
 * item was out of order. */
template <typename T>
bool ConsumeRounds(benchmark::State &state, Control &ctl, MpscQueue<T> &q) {
  // acquire: the producer is pinned before we start timing.
  while (ctl.ready.load(std::memory_order_acquire) == 0) CpuRelax();
  bool ok = true;
  u32 round = 0;
  for (auto _ : state) {
    ctl.round.store(++round, std::memory_order_release);  // release: start the round
    for (u64 i = 0; i < kItemsPerRound; ++i) {
      T out;
      while (q.Pop(out) != QueueStatus::kOk) CpuRelax();
      ok &= out == MakeItem<T>(i);
    }
  }
  ctl.round.store(kStop, std::memory_order_release);  // release: stop the producer
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kItemsPerRound));
  return ok;
}

template <typename T>
void BM_ThroughputProcess(benchmark::State &state) {
  const u32 depth = static_cast<u32>(state.range(0));
  const double before = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  SharedMem mem(sizeof(Control) + MpscQueue<T>::SizeOf(depth));
  if (mem.base() == nullptr) return state.SkipWithError("mmap failed");
  auto *ctl = new (mem.base()) Control();
  auto *q = new (mem.base() + sizeof(Control)) MpscQueue<T>(depth);
  const pid_t pid = ForkChild([&] { ProduceRounds(*ctl, *q); });
  if (pid < 0) return state.SkipWithError("fork failed");
  bool ok;
  {
    chi::bench::AffinityGuard guard;
    chi::bench::PinThisThreadToCore(kConsumerCore);
    ok = ConsumeRounds(state, *ctl, *q);
  }
  const bool child_ok = WaitChild(pid);
  state.counters["pingpong_before_ns"] = before;
  state.counters["pingpong_after_ns"] = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  if (!ok || !child_ok) state.SkipWithError("wrong item or producer failed");
}

template <typename T>
void BM_ThroughputThread(benchmark::State &state) {
  const u32 depth = static_cast<u32>(state.range(0));
  const double before = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  std::vector<char> raw(sizeof(Control) + MpscQueue<T>::SizeOf(depth) + hipc::kCacheLineBytes);
  char *base = reinterpret_cast<char *>(
      (reinterpret_cast<std::uintptr_t>(raw.data()) + hipc::kCacheLineBytes - 1) /
      hipc::kCacheLineBytes * hipc::kCacheLineBytes);
  auto *ctl = new (base) Control();
  auto *q = new (base + sizeof(Control)) MpscQueue<T>(depth);
  std::thread producer([&] { ProduceRounds(*ctl, *q); });
  bool ok;
  {
    chi::bench::AffinityGuard guard;
    chi::bench::PinThisThreadToCore(kConsumerCore);
    ok = ConsumeRounds(state, *ctl, *q);
  }
  producer.join();
  state.counters["pingpong_before_ns"] = before;
  state.counters["pingpong_after_ns"] = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  if (!ok) state.SkipWithError("wrong item");
}

/** Echo side of the round-trip benchmarks: pop from ping, push to pong,
 * until the stop item arrives. */
void Echo(MpscQueue<u64> &ping, MpscQueue<u64> &pong, std::atomic<u32> &ready) {
  chi::bench::PinThisThreadToCore(kProducerCore);
  ready.store(1, std::memory_order_release);  // release: a plain flag
  for (;;) {
    u64 v;
    while (ping.Pop(v) != QueueStatus::kOk) CpuRelax();
    if (v == ~u64{0}) return;
    while (pong.Push(v) == QueueStatus::kFull) CpuRelax();
  }
}

/** Timed side: one benchmark iteration == one round trip, timed on its own
 * with steady_clock (vDSO, TSC clocksource: ~20 ns per pair of reads, not
 * subtracted; reported as clock_overhead_ns). */
void TimeRoundTrips(benchmark::State &state, MpscQueue<u64> &ping, MpscQueue<u64> &pong,
                    std::atomic<u32> &ready) {
  using Clock = std::chrono::steady_clock;
  while (ready.load(std::memory_order_acquire) == 0) CpuRelax();  // acquire: flag
  u64 v;
  for (u64 i = 0; i < 2000; ++i) {  // warm-up: caches, TLB, branch predictors
    while (ping.Push(i) != QueueStatus::kOk) CpuRelax();
    while (pong.Pop(v) != QueueStatus::kOk) CpuRelax();
  }
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(state.max_iterations));
  u64 i = 0;
  bool ok = true;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    while (ping.Push(i) != QueueStatus::kOk) CpuRelax();
    while (pong.Pop(v) != QueueStatus::kOk) CpuRelax();
    const auto t1 = Clock::now();
    ok &= v == i++;
    samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  while (ping.Push(~u64{0}) != QueueStatus::kOk) CpuRelax();
  std::vector<double> clock_cost;
  for (int k = 0; k < 10000; ++k) {
    const auto t0 = Clock::now();
    const auto t1 = Clock::now();
    clock_cost.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  const chi::bench::SampleStats st = chi::bench::ComputeStats(samples);
  state.counters["rt_median_ns"] = st.median;
  state.counters["rt_p99_ns"] = st.p99;
  state.counters["clock_overhead_ns"] = chi::bench::ComputeStats(clock_cost).median;
  if (!ok) state.SkipWithError("echo returned a wrong item");
}

struct RoundTripBlock {
  std::atomic<u32> ready{0};
};

void BM_RoundTripProcess(benchmark::State &state) {
  const u32 depth = static_cast<u32>(state.range(0));
  const double before = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  const std::size_t qbytes = MpscQueue<u64>::SizeOf(depth);
  SharedMem mem(hipc::kCacheLineBytes + 2 * qbytes);
  if (mem.base() == nullptr) return state.SkipWithError("mmap failed");
  auto *blk = new (mem.base()) RoundTripBlock();
  auto *ping = new (mem.base() + hipc::kCacheLineBytes) MpscQueue<u64>(depth);
  auto *pong = new (mem.base() + hipc::kCacheLineBytes + qbytes) MpscQueue<u64>(depth);
  const pid_t pid = ForkChild([&] { Echo(*ping, *pong, blk->ready); });
  if (pid < 0) return state.SkipWithError("fork failed");
  {
    chi::bench::AffinityGuard guard;
    chi::bench::PinThisThreadToCore(kConsumerCore);
    TimeRoundTrips(state, *ping, *pong, blk->ready);
  }
  const bool child_ok = WaitChild(pid);
  state.counters["pingpong_before_ns"] = before;
  state.counters["pingpong_after_ns"] = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  if (!child_ok) state.SkipWithError("echo process failed");
}

void BM_RoundTripThread(benchmark::State &state) {
  const u32 depth = static_cast<u32>(state.range(0));
  const double before = chi::bench::PingPongRoundTripNs(kCalibrationIters);
  const std::size_t qbytes = MpscQueue<u64>::SizeOf(depth);
  std::vector<char> raw(2 * qbytes + hipc::kCacheLineBytes);
  char *base = reinterpret_cast<char *>(
      (reinterpret_cast<std::uintptr_t>(raw.data()) + hipc::kCacheLineBytes - 1) /
      hipc::kCacheLineBytes * hipc::kCacheLineBytes);
  auto *ping = new (base) MpscQueue<u64>(depth);
  auto *pong = new (base + qbytes) MpscQueue<u64>(depth);
  std::atomic<u32> ready{0};
  std::thread echo([&] { Echo(*ping, *pong, ready); });
  {
    chi::bench::AffinityGuard guard;
    chi::bench::PinThisThreadToCore(kConsumerCore);
    TimeRoundTrips(state, *ping, *pong, ready);
  }
  echo.join();
  state.counters["pingpong_before_ns"] = before;
  state.counters["pingpong_after_ns"] = chi::bench::PingPongRoundTripNs(kCalibrationIters);
}

// Fixed iteration counts: each benchmark forks / spawns once and runs briefly.
BENCHMARK(BM_ThroughputProcess<u64>)->Arg(1024)->Iterations(8)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ThroughputProcess<hipc::Pointer>)->Arg(1024)->Iterations(8)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ThroughputThread<u64>)->Arg(1024)->Iterations(8)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RoundTripProcess)->Arg(64)->Iterations(200000)->UseRealTime()->Unit(benchmark::kNanosecond);
BENCHMARK(BM_RoundTripThread)->Arg(64)->Iterations(200000)->UseRealTime()->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
