#pragma once
/**
 * @file calibration.h
 * Header-only helpers shared by the latency benchmarks:
 * - PinThisThreadToCore: pthread_setaffinity_np wrapper.
 * - ComputeStats: median / p99 of latency samples.
 * - PingPongRoundTripNs: the machine's plain core-to-core round trip. The
 *   development VM switches by itself between a ~110 ns and a ~550 ns state,
 *   so every latency benchmark measures this before and after its own run
 *   and reports both (counters pingpong_before_ns / pingpong_after_ns); a
 *   figure is only comparable with others taken in the same state.
 */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace chi::bench {

/** CPU hint inside a spin loop (PAUSE on x86). */
inline void CpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

/** Number of CPUs this process may run on. */
inline int UsableCores() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

/** Pin the calling thread to `core`. Returns false (and leaves the affinity
 * unchanged) when the core does not exist or the call fails. */
inline bool PinThisThreadToCore(int core) noexcept {
  if (core < 0 || core >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

/** Saves the calling thread's affinity and restores it on destruction. */
class AffinityGuard {
 public:
  AffinityGuard() noexcept {
    CPU_ZERO(&saved_);
    ok_ = pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_) == 0;
  }
  ~AffinityGuard() {
    if (ok_) pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_);
  }
  AffinityGuard(const AffinityGuard &) = delete;
  AffinityGuard &operator=(const AffinityGuard &) = delete;

 private:
  cpu_set_t saved_;
  bool ok_ = false;
};

/** Summary of latency samples, in the samples' unit. */
struct SampleStats {
  double median = 0;
  double p99 = 0;
  double min = 0;
  double max = 0;
};

/** Median (nearest-rank, upper median for even counts), p99 (nearest rank),
 * min and max of `samples`; all zeros when empty. Reorders `samples`. */
inline SampleStats ComputeStats(std::vector<double> &samples) {
  SampleStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  s.median = samples[n / 2];
  s.p99 = samples[std::min(n - 1, (n * 99 + 99) / 100 - 1)];
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

/** Median round trip, in ns, of a plain two-thread ping-pong over two
 * std::atomic flags on separate cache lines (threads pinned to cores 0 and 1
 * when the process may use 2+ cores). `iterations` round trips are split
 * into batches of up to 1000; each batch yields one sample (its mean); the
 * median of the samples is returned. Returns 0 when iterations <= 0.
 * Thread-safety: self-contained; starts and joins one thread. Takes both
 * cores for its duration, so call it while no other benchmark thread spins. */
inline double PingPongRoundTripNs(int iterations) {
  if (iterations <= 0) return 0;
  struct alignas(128) Flag {
    std::atomic<int> v{0};
  };
  Flag ping, pong;
  const bool pin = UsableCores() >= 2;
  const int batch = std::min(iterations, 1000);
  const int batches = std::max(1, iterations / batch);

  std::thread responder([&] {
    if (pin) PinThisThreadToCore(1);
    for (int i = 1; i <= batches * batch; ++i) {
      // acquire/release: the pair is a plain handshake; ordering of other
      // data is not needed, but acquire/release is what real code pays.
      while (ping.v.load(std::memory_order_acquire) != i) CpuRelax();
      pong.v.store(i, std::memory_order_release);
    }
  });
  AffinityGuard guard;
  if (pin) PinThisThreadToCore(0);
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(batches));
  int i = 0;
  for (int b = 0; b < batches; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < batch; ++k) {
      ++i;
      ping.v.store(i, std::memory_order_release);  // release: see responder
      while (pong.v.load(std::memory_order_acquire) != i) CpuRelax();
    }
    const auto t1 = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / batch);
  }
  responder.join();
  return ComputeStats(samples).median;
}

}  // namespace chi::bench
