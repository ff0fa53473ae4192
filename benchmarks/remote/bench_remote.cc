// Remote-task benchmarks (issue "multi-node runtime"): two real runtime
// nodes on 127.0.0.2 and 127.0.0.3 (one worker each), a C++ client attached
// to node 0, tasks addressed to node 1; each figure beside a raw cppzmq
// baseline between the same two addresses (a forked process answers on
// 127.0.0.3, this process sends from 127.0.0.2), measured interleaved in
// rounds so both see the same machine state:
//   remote sync round trip, empty task   vs raw DEALER/ROUTER ping-pong of a
//                                          message of the same size   target <= 1.5x
//   remote async throughput, 256 in flight vs raw PUSH/PULL message rate,
//                                          same size                  target >= 0.5x
//   1 MiB CHI_WRITE bulk (bdev Write to RAM on node 1), 8 in flight
//                                        vs raw PUSH/PULL of 1 MiB    target >= 0.7x
//   kill -9 of a peer -> error at a waiting client (peer_dead_after 1 s,
//                                          heartbeats every 250 ms)  target <= 1.5 s
// Latency rows also report the core-to-core ping-pong calibration.
// Run: build/bin/bench_remote [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bdev/bdev_client.h"
#include "calibration.h"
#include "local_cluster.h"
#include "small_message/small_message_client.h"

namespace {
using chi::DomainQuery;
using chi::testing::ClusterOptions;
using chi::testing::LocalCluster;
using Clock = std::chrono::steady_clock;
using namespace chi::bench;

chi::ipc::MemContext mctx;

double NsSince(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

/** Bytes an empty small_message task puts on the wire each way (measured:
 * header 32 + record header 16 + task frame 57; the reply is smaller). */
constexpr std::size_t kEmptyTaskWireBytes = 105;

// ---- the raw ZeroMQ peer: a forked process on 127.0.0.3 ----------------------
// ROUTER on port+1: echoes every message (ping-pong), and answers "count N"
// once it has pulled N messages on the PULL socket (port+2).
struct RawPeer {
  pid_t pid = -1;
  chi::u16 port = 0;
  void Start(chi::u16 p) {
    port = p;
    pid = fork();
    if (pid != 0) return;
    zmq::context_t ctx(1);
    zmq::socket_t router(ctx, zmq::socket_type::router), pull(ctx, zmq::socket_type::pull);
    for (auto *s : {&router, &pull}) {
      s->set(zmq::sockopt::linger, 0);
      s->set(zmq::sockopt::rcvhwm, 10000);
    }
    router.bind("tcp://127.0.0.3:" + std::to_string(port + 1));
    pull.bind("tcp://127.0.0.3:" + std::to_string(port + 2));
    chi::u64 pulled = 0, want = 0;
    std::string waiter;
    for (;;) {
      zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}, {pull.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t id, body;
        (void)router.recv(id);
        (void)router.recv(body);
        std::string b(static_cast<const char *>(body.data()), std::min<std::size_t>(body.size(), 32));
        if (b.rfind("count ", 0) == 0) {
          want = std::stoull(b.substr(6));
          waiter.assign(static_cast<const char *>(id.data()), id.size());
        } else if (b == "quit") {
          break;
        } else {
          router.send(id, zmq::send_flags::sndmore);
          router.send(body, zmq::send_flags::none);
        }
      }
      if (items[1].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        while (pull.recv(m, zmq::recv_flags::dontwait)) ++pulled;
      }
      if (!waiter.empty() && pulled >= want) {
        router.send(zmq::buffer(waiter), zmq::send_flags::sndmore);
        router.send(zmq::str_buffer("done"), zmq::send_flags::none);
        waiter.clear();
        pulled = 0;
      }
    }
    _exit(0);
  }
};

struct Env {
  std::unique_ptr<LocalCluster> cluster;
  RawPeer raw;
  std::unique_ptr<zmq::context_t> ctx;  // created after the fork
  std::unique_ptr<zmq::socket_t> dealer, push;
  chimaera::small_message::Client sm;
  chimaera::bdev::Client dev;

  Env() {
    ClusterOptions o{.nodes = 2};
    o.heartbeat = "250ms";
    o.dead_after = "1s";
    o.extra_yaml = "shm_size: 512m\n";
    cluster = std::make_unique<LocalCluster>(o);
    // Far from the ports UniquePort hands the next clusters (+101 each).
    raw.Start(static_cast<chi::u16>(30000 + (cluster->Port() - 30000 + 15007) % 29990));
    if (!cluster->Start() || !cluster->Connect(0) || !cluster->WaitAllAlive()) {
      fprintf(stderr, "cluster failed to start:\n%s\n", cluster->Logs().c_str());
      std::exit(1);
    }
    chimaera::admin::Client admin;
    // One CreatePool: container k on node k.
    sm.pool_id_ = admin.CreatePool(mctx, DomainQuery::GetDynamic(), "sm", "small_message");
    dev.pool_id_ = admin.CreatePool(mctx, DomainQuery::GetDynamic(), "dev", "bdev", "ram,size=256m");
    dev.SetDomain(DomainQuery::GetGlobalNode(1));
    ctx = std::make_unique<zmq::context_t>(1);
    dealer = std::make_unique<zmq::socket_t>(*ctx, zmq::socket_type::dealer);
    push = std::make_unique<zmq::socket_t>(*ctx, zmq::socket_type::push);
    for (auto *s : {dealer.get(), push.get()}) {
      s->set(zmq::sockopt::linger, 0);
      s->set(zmq::sockopt::sndhwm, 10000);
    }
    // "source;destination": send from node 0's address.
    dealer->connect("tcp://127.0.0.2:0;127.0.0.3:" + std::to_string(raw.port + 1));
    push->connect("tcp://127.0.0.2:0;127.0.0.3:" + std::to_string(raw.port + 2));
    RawPingPong(kEmptyTaskWireBytes, 100);  // connected and warm
  }
  ~Env() {
    dealer->send(zmq::str_buffer("quit"), zmq::send_flags::none);
    waitpid(raw.pid, nullptr, 0);
    dealer.reset();
    push.reset();
    ctx.reset();
    cluster.reset();
  }

  /** `n` raw ping-pongs of `bytes`; the per-round-trip times in ns. */
  std::vector<double> RawPingPong(std::size_t bytes, int n) {
    std::vector<double> out;
    std::string msg(bytes, 'p');
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      dealer->send(zmq::buffer(msg), zmq::send_flags::none);
      zmq::message_t r;
      (void)dealer->recv(r);
      out.push_back(NsSince(t0));
    }
    return out;
  }
  /** Raw PUSH/PULL: `n` messages of `bytes`; messages per second. */
  double RawPushRate(std::size_t bytes, int n) {
    std::string msg(bytes, 'q');
    auto t0 = Clock::now();
    dealer->send(zmq::buffer("count " + std::to_string(n)), zmq::send_flags::none);
    for (int i = 0; i < n; ++i) push->send(zmq::buffer(msg), zmq::send_flags::none);
    zmq::message_t done;
    (void)dealer->recv(done);
    return n / (NsSince(t0) / 1e9);
  }
};
Env &GetEnv() {
  static Env env;
  return env;
}

void BM_RemoteSyncRoundTrip(benchmark::State &state) {
  Env &env = GetEnv();
  const DomainQuery node1 = DomainQuery::GetGlobalNode(1);
  for (int i = 0; i < 2000; ++i) env.sm.Md(mctx, node1);  // warm-up
  const double pp_before = PingPongRoundTripNs(20000);
  std::vector<double> ours, raw;
  for (auto _ : state) {
    // Interleaved rounds: 1000 raw ping-pongs, then 1000 remote tasks.
    auto r = env.RawPingPong(kEmptyTaskWireBytes, 1000);
    raw.insert(raw.end(), r.begin(), r.end());
    for (int i = 0; i < 1000; ++i) {
      auto t0 = Clock::now();
      env.sm.Md(mctx, node1);
      ours.push_back(NsSince(t0));
    }
  }
  const double pp_after = PingPongRoundTripNs(20000);
  SampleStats s = ComputeStats(ours), b = ComputeStats(raw);
  state.counters["median_us"] = s.median / 1000;
  state.counters["p99_us"] = s.p99 / 1000;
  state.counters["raw_zmq_median_us"] = b.median / 1000;
  state.counters["ratio_to_raw"] = s.median / b.median;
  state.counters["pingpong_before_ns"] = pp_before;
  state.counters["pingpong_after_ns"] = pp_after;
}
BENCHMARK(BM_RemoteSyncRoundTrip)->Iterations(10)->Unit(benchmark::kMillisecond);

void BM_RemoteAsyncThroughput(benchmark::State &state) {
  Env &env = GetEnv();
  const auto in_flight = static_cast<std::size_t>(state.range(0));
  const DomainQuery node1 = DomainQuery::GetGlobalNode(1);
  auto *ipc = CHI_IPC_MANAGER;
  std::vector<double> ours, raw;
  constexpr int kTasks = 100000;
  for (auto _ : state) {
    raw.push_back(env.RawPushRate(kEmptyTaskWireBytes, kTasks));
    std::vector<chi::ipc::FullPtr<chimaera::small_message::MdTask>> window(in_flight);
    auto t0 = Clock::now();
    for (auto &t : window) t = env.sm.AsyncMd(mctx, node1);
    for (int i = static_cast<int>(in_flight); i < kTasks; ++i) {
      auto &t = window[i % in_flight];
      t->Wait();
      ipc->DelTask(t);
      t = env.sm.AsyncMd(mctx, node1);
    }
    for (auto &t : window) {
      t->Wait();
      ipc->DelTask(t);
    }
    ours.push_back(kTasks / (NsSince(t0) / 1e9));
  }
  SampleStats s = ComputeStats(ours), b = ComputeStats(raw);
  state.counters["tasks_per_s"] = s.median;
  state.counters["raw_zmq_msgs_per_s"] = b.median;
  state.counters["ratio_to_raw"] = s.median / b.median;
}
BENCHMARK(BM_RemoteAsyncThroughput)->Arg(256)->Arg(4096)->Arg(16)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RemoteBulkWrite1MiB(benchmark::State &state) {
  Env &env = GetEnv();
  constexpr std::size_t kBytes = 1 << 20, kInFlight = 8;
  constexpr int kWrites = 256;
  auto &alloc = CHI_IPC_MANAGER->GetAllocator();
  std::vector<chi::ipc::Pointer> bufs;
  for (std::size_t i = 0; i < kInFlight; ++i) {
    bufs.push_back(alloc.Allocate(kBytes));
    std::memset(alloc.Convert(bufs.back()), static_cast<int>('a' + i), kBytes);
  }
  const chi::u64 base = env.dev.Allocate(mctx, kBytes * kInFlight);
  std::vector<double> ours, raw;
  for (auto _ : state) {
    raw.push_back(env.RawPushRate(kBytes, kWrites) * kBytes / 1e6);
    std::vector<chi::ipc::FullPtr<chimaera::bdev::WriteTask>> window(kInFlight);
    auto t0 = Clock::now();
    for (int i = 0; i < kWrites; ++i) {
      auto &t = window[i % kInFlight];
      if (!t.IsNull()) {
        t->Wait();
        if (t->HasError()) state.SkipWithError(t->error_.str().c_str());
        CHI_IPC_MANAGER->DelTask(t);
      }
      t = env.dev.AsyncWrite(mctx, base + (i % kInFlight) * kBytes, bufs[i % kInFlight], kBytes);
    }
    for (auto &t : window) {
      t->Wait();
      CHI_IPC_MANAGER->DelTask(t);
      t = {};
    }
    ours.push_back(kWrites * kBytes / 1e6 / (NsSince(t0) / 1e9));
  }
  for (auto p : bufs) alloc.Free(p);
  SampleStats s = ComputeStats(ours), b = ComputeStats(raw);
  state.counters["MB_per_s"] = s.median;
  state.counters["raw_zmq_MB_per_s"] = b.median;
  state.counters["ratio_to_raw"] = s.median / b.median;
}
BENCHMARK(BM_RemoteBulkWrite1MiB)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

// kill -9 of node 1 while a client on node 0 waits on a task there: time to
// the kTaskNodeUnreachable error. Node 1 is restarted after each sample.
void BM_KillToError(benchmark::State &state) {
  Env &env = GetEnv();
  LocalCluster &c = *env.cluster;
  std::vector<double> samples;
  chimaera::admin::Client admin;
  for (auto _ : state) {
    env.sm.Md(mctx, DomainQuery::GetGlobalNode(1));  // node 1 is alive and answering
    // A task sent right after the kill waits, like one already in flight,
    // until node 0's failure detector declares node 1 dead (no heartbeat for
    // peer_dead_after): the figure is that detection time as a client sees it.
    kill(c.Node(1).Pid(), SIGKILL);
    auto t0 = Clock::now();
    auto doomed = env.sm.AsyncMd(mctx, DomainQuery::GetGlobalNode(1));
    doomed->Wait();
    samples.push_back(NsSince(t0));
    if (doomed->return_code_ != chi::kTaskNodeUnreachable) state.SkipWithError(doomed->error_.str().c_str());
    CHI_IPC_MANAGER->DelTask(doomed);
    state.PauseTiming();
    c.Node(1).WaitExit(5000);
    c.Replace(1);
    c.Node(1).Launch();
    if (!c.Node(1).Connect() || !c.Connect(0) || !c.WaitAllAlive()) state.SkipWithError("node 1 did not come back");
    // The new incarnation starts empty: give it back its containers.
    admin.CreatePool(mctx, DomainQuery::GetGlobalNode(1), "sm", "small_message", "", env.sm.pool_id_, {},
                     chimaera::admin::PoolScope::kThisNode);
    admin.CreatePool(mctx, DomainQuery::GetGlobalNode(1), "dev", "bdev", "ram,size=256m", env.dev.pool_id_, {},
                     chimaera::admin::PoolScope::kThisNode);
    state.ResumeTiming();
  }
  SampleStats s = ComputeStats(samples);
  state.counters["median_ms"] = s.median / 1e6;
  state.counters["max_ms"] = s.max / 1e6;
  state.counters["peer_dead_after_ms"] = 1000;
}
BENCHMARK(BM_KillToError)->Iterations(5)->Unit(benchmark::kMillisecond);

// An empty task broadcast to the 4 containers of a pool on 4 local nodes
// (one replica per container: 1 local, 3 through the remote queue, direct
// sends), beside one remote task to a single node of the same cluster and
// the raw ZeroMQ ping-pong of the 2-node environment, interleaved.
void BM_Broadcast4Nodes(benchmark::State &state) {
  Env &env = GetEnv();
  {
    ClusterOptions o{.nodes = 4};
    o.heartbeat = "250ms";
    o.dead_after = "1s";
    LocalCluster four(o);  // its nodes are killed and unlinked at the end of the block
    if (!four.Start() || !four.Connect(0) || !four.WaitAllAlive()) {
      state.SkipWithError("the 4-node cluster did not start");
      return;
    }
    chimaera::small_message::Client sm;
    sm.pool_id_ = chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetDynamic(), "sm4", "small_message");
    for (int i = 0; i < 500; ++i) sm.Md(mctx, DomainQuery::GetBroadcast());  // warm-up
    const double pp_before = PingPongRoundTripNs(20000);
    std::vector<double> bcast, one, raw;
    for (auto _ : state) {
      auto r = env.RawPingPong(kEmptyTaskWireBytes, 500);
      raw.insert(raw.end(), r.begin(), r.end());
      for (int i = 0; i < 500; ++i) {
        auto t0 = Clock::now();
        sm.Md(mctx, DomainQuery::GetBroadcast());
        bcast.push_back(NsSince(t0));
        t0 = Clock::now();
        sm.Md(mctx, DomainQuery::GetGlobalNode(1 + i % 3));
        one.push_back(NsSince(t0));
      }
    }
    const double pp_after = PingPongRoundTripNs(20000);
    SampleStats b = ComputeStats(bcast), u = ComputeStats(one), z = ComputeStats(raw);
    state.counters["broadcast_median_us"] = b.median / 1000;
    state.counters["broadcast_p99_us"] = b.p99 / 1000;
    state.counters["one_remote_median_us"] = u.median / 1000;
    state.counters["raw_zmq_median_us"] = z.median / 1000;
    state.counters["broadcast_to_one"] = b.median / u.median;
    state.counters["pingpong_before_ns"] = pp_before;
    state.counters["pingpong_after_ns"] = pp_after;
  }
  if (!env.cluster->Connect(0)) state.SkipWithError("cannot reattach to the 2-node cluster");
}
BENCHMARK(BM_Broadcast4Nodes)->Iterations(5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
