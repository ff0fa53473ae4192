// Runtime benchmarks (issue "single-node runtime"): a real chimaera_runtime
// process, a C++ client in this process, empty small_message tasks.
//   sync round trip (median, p99)        target median < 0.7 µs (fast state)
//   async throughput, 16 / 256 in flight target > 5 M tasks/s
//   first task after 10 ms / 100 ms / 1 s idle   target < 50 µs
//     beside it, the VM's floor for that path: a bare futex wake-up of a
//     parked process and its answer, after the same idle time
//   idle CPU over 10 s                   target < 0.3 % of a core
//   launch -> first completed task        target < 20 ms
// Every latency figure is reported beside the ping-pong calibration.
// Run: build/bin/bench_runtime [--benchmark_filter=...]
// Environment: CHI_BENCH_WORKERS (default 1); CHI_BENCH_PEERS=N (default 0):
// the runtime measured is node 0 of a cluster of N+1 local nodes (on
// 127.0.0.2, ...; heartbeats every 250 ms), the tasks stay on it: the local
// figures of a node that has peers.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "calibration.h"
#include "chimaera/ipc/futex.h"
#include "local_cluster.h"
#include "runtime_process.h"
#include "small_message/small_message_client.h"

namespace {
using chi::testing::RuntimeProcess;
using chimaera::small_message::Client;
using chimaera::small_message::MdTask;
using Clock = std::chrono::steady_clock;
using namespace chi::bench;

int Workers() {
  const char *w = std::getenv("CHI_BENCH_WORKERS");
  return w ? std::atoi(w) : 1;
}

int Peers() {
  const char *p = std::getenv("CHI_BENCH_PEERS");
  return p ? std::atoi(p) : 0;
}

struct Env {
  std::unique_ptr<RuntimeProcess> single;
  std::unique_ptr<chi::testing::LocalCluster> cluster;
  RuntimeProcess *rt = nullptr;  // the runtime measured (node 0 of the cluster)
  Client sm;
  Env() {
    bool ok = false;
    if (Peers() > 0) {
      chi::testing::ClusterOptions o{.nodes = 1 + Peers(), .workers = Workers()};
      o.heartbeat = "250ms";
      o.dead_after = "1s";
      cluster = std::make_unique<chi::testing::LocalCluster>(o);
      ok = cluster->Start() && cluster->Connect(0) && cluster->WaitAllAlive();
      rt = &cluster->Node(0);
    } else {
      single = std::make_unique<RuntimeProcess>("workers: " + std::to_string(Workers()) + "\n");
      ok = single->Start();
      rt = single.get();
    }
    if (!ok) {
      fprintf(stderr, "runtime failed to start:\n%s\n", rt->Log().c_str());
      std::exit(1);
    }
    sm.Create(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0), "bench");
  }
  ~Env() {
    if (cluster) cluster.reset();
    else rt->Stop();
  }
};
Env &GetEnv() {
  static Env env;
  return env;
}

double NsSince(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

void BM_SyncRoundTrip(benchmark::State &state) {
  Env &env = GetEnv();
  const chi::DomainQuery dq = chi::DomainQuery::GetLocalHash(0);
  for (int i = 0; i < 10000; ++i) env.sm.Md(chi::ipc::MemContext(), dq);  // warm-up
  double pp_before = PingPongRoundTripNs(20000);
  std::vector<double> samples;
  for (auto _ : state) {
    auto t0 = Clock::now();
    env.sm.Md(chi::ipc::MemContext(), dq);
    samples.push_back(NsSince(t0));
  }
  double pp_after = PingPongRoundTripNs(20000);
  SampleStats s = ComputeStats(samples);
  state.counters["median_ns"] = s.median;
  state.counters["p99_ns"] = s.p99;
  state.counters["pingpong_before_ns"] = pp_before;
  state.counters["pingpong_after_ns"] = pp_after;
}
BENCHMARK(BM_SyncRoundTrip)->Iterations(200000)->Unit(benchmark::kMicrosecond);

void BM_AsyncThroughput(benchmark::State &state) {
  Env &env = GetEnv();
  const auto in_flight = static_cast<std::size_t>(state.range(0));
  auto *ipc = CHI_IPC_MANAGER;
  std::vector<chi::ipc::FullPtr<MdTask>> window(in_flight);
  const chi::DomainQuery dq = chi::DomainQuery::GetLocalHash(0);
  std::size_t head = 0;
  for (auto &t : window) t = env.sm.AsyncMd(chi::ipc::MemContext(), dq);
  for (auto _ : state) {
    // Keep `in_flight` tasks outstanding: retire the oldest, submit a new one.
    auto &t = window[head];
    t->Wait();
    ipc->DelTask(t);
    t = env.sm.AsyncMd(chi::ipc::MemContext(), dq);
    head = (head + 1) % in_flight;
  }
  for (auto &t : window) {
    t->Wait();
    ipc->DelTask(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AsyncThroughput)->Arg(16)->Arg(256)->MinTime(1.0)->UseRealTime();

/** Each iteration: sleep state.range(0) ms (untimed), then time `once()`.
 * Reports the median and max in µs beside the ping-pong calibration. */
template <typename Fn>
void TimeAfterIdle(benchmark::State &state, Fn once) {
  std::vector<double> samples;
  double pp_before = PingPongRoundTripNs(20000);
  for (auto _ : state) {
    state.PauseTiming();
    std::this_thread::sleep_for(std::chrono::milliseconds(state.range(0)));
    state.ResumeTiming();
    auto t0 = Clock::now();
    once();
    samples.push_back(NsSince(t0));
  }
  double pp_after = PingPongRoundTripNs(20000);
  SampleStats s = ComputeStats(samples);
  state.counters["median_us"] = s.median / 1000;
  state.counters["max_us"] = s.max / 1000;
  state.counters["pingpong_before_ns"] = pp_before;
  state.counters["pingpong_after_ns"] = pp_after;
}

void BM_FirstTaskAfterIdle(benchmark::State &state) {
  Env &env = GetEnv();
  const chi::DomainQuery dq = chi::DomainQuery::GetLocalHash(0);
  TimeAfterIdle(state, [&] { env.sm.Md(chi::ipc::MemContext(), dq); });
}
BENCHMARK(BM_FirstTaskAfterIdle)->Arg(10)->Iterations(50)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FirstTaskAfterIdle)->Arg(100)->Iterations(20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FirstTaskAfterIdle)->Arg(1000)->Iterations(20)->Unit(benchmark::kMicrosecond);

long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream f(line.substr(line.rfind(')') + 2));
  std::string tok;
  long total = 0;
  for (int i = 0; f >> tok && i <= 12; ++i)
    if (i == 11 || i == 12) total += std::stol(tok);
  return total;
}

// The floor under BM_FirstTaskAfterIdle: what a runtime-less exchange with
// a parked process costs after the same idle time. A forked child parks on a
// futex in a shared page (no timeout, like a parked worker); the parent wakes
// it and polls with sched_yield until the child answers (as a client does
// after waking a worker). One futex wake-up and two context switches.
void BM_BareWakeAfterIdle(benchmark::State &state) {
  struct Shared {
    std::atomic<chi::u32> bell{0};
    std::atomic<chi::u32> answer{0};
    std::atomic<chi::u32> stop{0};
  };
  void *mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  auto *sh = new (mem) Shared();
  pid_t child = fork();
  if (child == 0) {
    for (chi::u32 seen = 0; sh->stop.load() == 0;) {
      chi::ipc::FutexWait(sh->bell, seen, chi::ipc::kWaitForever);
      seen = sh->bell.load();
      sh->answer.store(seen);
    }
    _exit(0);
  }
  if (child < 0) {
    munmap(mem, sizeof(Shared));
    state.SkipWithError("fork failed");
    return;
  }
  chi::u32 round = 0;
  TimeAfterIdle(state, [&] {
    sh->bell.store(++round);
    chi::ipc::FutexWake(sh->bell, 1);
    while (sh->answer.load() != round) sched_yield();
  });
  sh->stop.store(1);
  sh->bell.fetch_add(1);
  chi::ipc::FutexWake(sh->bell, 1);
  waitpid(child, nullptr, 0);
  munmap(mem, sizeof(Shared));
}
BENCHMARK(BM_BareWakeAfterIdle)->Arg(10)->Iterations(50)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BareWakeAfterIdle)->Arg(100)->Iterations(20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BareWakeAfterIdle)->Arg(1000)->Iterations(20)->Unit(benchmark::kMicrosecond);

void BM_IdleCpu(benchmark::State &state) {
  Env &env = GetEnv();
  const double seconds = 10;
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let workers park
    long t0 = CpuTicks(env.rt->Pid());
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    long used = CpuTicks(env.rt->Pid()) - t0;
    state.counters["idle_cpu_percent"] = 100.0 * used / sysconf(_SC_CLK_TCK) / seconds;
  }
}
BENCHMARK(BM_IdleCpu)->Iterations(1)->Unit(benchmark::kSecond);

void BM_LaunchToFirstTask(benchmark::State &state) {
  std::vector<double> samples;
  for (auto _ : state) {
    auto t0 = Clock::now();
    RuntimeProcess rt("workers: " + std::to_string(Workers()) + "\n");
    rt.Launch();
    if (!rt.Connect(10000)) state.SkipWithError("runtime did not start");
    Client sm;
    sm.Create(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), "first");
    sm.Md(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0));
    samples.push_back(NsSince(t0));
    rt.Stop();
  }
  SampleStats s = ComputeStats(samples);
  state.counters["median_ms"] = s.median / 1e6;
  state.counters["max_ms"] = s.max / 1e6;
}
BENCHMARK(BM_LaunchToFirstTask)->Iterations(10)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
