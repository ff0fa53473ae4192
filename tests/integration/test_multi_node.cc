// Several nodes as several real runtime processes, each on its own loopback
// address (127.0.0.2, 127.0.0.3, ...), talking over real ZeroMQ sockets
// (DESIGN.md §7). A task addressed to another node goes through the remote
// queue and comes back with its OUT fields and CHI_EXPOSE buffers; errors
// name the node that ran it.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <zmq.hpp>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bdev/bdev_client.h"
#include "compressor/compressor_client.h"
#include "local_cluster.h"
#include "work_calls.h"
#include "worktest/worktest_tasks.h"

namespace {
using chi::DomainQuery;
using chi::testing::ClusterOptions;
using chi::testing::ExitedWith;
using chi::testing::LocalCluster;
using chi::testing::Work;
using chi::testing::WorkError;
using chimaera_test::worktest::Method;
using chimaera_test::worktest::WorkTask;

chi::ipc::MemContext mctx;

/** Create pool `name` of `mod` with a container on every node (one
 * cluster-wide CreatePool; container k on node k). */
chi::PoolId CreateEverywhere(LocalCluster &c, const std::string &name, const std::string &mod,
                             const std::string &args = "") {
  chimaera::admin::Client admin;
  chi::PoolId id = admin.CreatePool(mctx, DomainQuery::GetDynamic(), name, mod, args);
  for (const auto &p : admin.ListPools(mctx, DomainQuery::GetDynamic()))
    if (p.id == id) EXPECT_EQ(p.nodes.size(), static_cast<std::size_t>(c.Size()));
  return id;
}

chi::ipc::FullPtr<WorkTask> Async(chi::PoolId pool, DomainQuery dom, chi::u32 method, chi::u64 in) {
  return chi::testing::AsyncWork(pool, dom, method, in);
}

std::string NodeName(const LocalCluster &c, int k) {
  return "node " + std::to_string(k) + " (" + LocalCluster::Host(k) + ":" + std::to_string(c.Port()) + ")";
}

TEST(MultiNode, TwoNodesTaskRunsOnItsNodeAndReturnsOutputs) {
  LocalCluster c;
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "work", "worktest");
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kWhere), 1u);
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(0), Method::kWhere), 0u);
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kEcho, 21), 42u);
  EXPECT_EQ(Work(pool, DomainQuery::GetLocalHash(0), Method::kWhere), 0u);
  // The same from a client of node 1.
  ASSERT_TRUE(c.Connect(1));
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(0), Method::kWhere), 0u);
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kWhere), 1u);
}

TEST(MultiNode, FourNodesEveryNodeReachesEveryNode) {
  LocalCluster c(ClusterOptions{.nodes = 4});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "work", "worktest");
  for (int from = 0; from < 4; ++from) {
    ASSERT_TRUE(c.Connect(from));
    for (int to = 0; to < 4; ++to) EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(to), Method::kWhere), chi::u64(to));
  }
  ASSERT_TRUE(c.Connect(0));
  auto peers = chimaera::remote_queue::Client().Peers();
  ASSERT_EQ(peers.size(), 4u);
  EXPECT_EQ(peers[0].state, "self");
  for (int k = 1; k < 4; ++k) {
    EXPECT_EQ(peers[k].state, "alive");
    EXPECT_EQ(peers[k].address, LocalCluster::Host(k) + ":" + std::to_string(c.Port()));
  }
}

TEST(MultiNode, RemoteErrorsNameTheNodeThatRanTheTask) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "work", "worktest");
  chi::TaskError e = WorkError(pool, DomainQuery::GetGlobalNode(1), Method::kThrow);
  EXPECT_EQ(e.Code(), chi::kTaskModuleException);
  EXPECT_EQ(std::string(e.what()), NodeName(c, 1) + ": worktest Throw: boom");
  // A pool only node 0 knows (kThisNode): unknown on node 2.
  chi::PoolId only0 = chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetLocalHash(0), "only0", "worktest",
                                                           "", chi::PoolId(), {}, chimaera::admin::PoolScope::kThisNode);
  e = WorkError(only0, DomainQuery::GetGlobalNode(2), Method::kWhere);
  EXPECT_EQ(e.Code(), chi::kTaskUnknownPool);
  EXPECT_EQ(std::string(e.what()), NodeName(c, 2) + ": no pool with id " + only0.ToString());
  // No node 7.
  e = WorkError(pool, DomainQuery::GetGlobalNode(7), Method::kWhere);
  EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
  EXPECT_NE(std::string(e.what()).find("has no container on node 7 (its containers are on nodes [0, 1, 2])"),
            std::string::npos)
      << e.what();
  // Still serving.
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kWhere), 1u);
}

TEST(MultiNode, RuntimeSideWaitOnASubtaskOnAnotherNode) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "work", "worktest");
  // Client on 0 -> Relay on 1 -> Where on 2 (the Relay's fiber waits on node 1).
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kRelay, 2), 201u);
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(2), Method::kRelay, 0), 2u);
  // Many at once, with one worker per node.
  std::vector<chi::ipc::FullPtr<WorkTask>> ts;
  for (int i = 0; i < 200; ++i) ts.push_back(Async(pool, DomainQuery::GetGlobalNode(1 + i % 2), Method::kRelay, i % 3));
  for (int i = 0; i < 200; ++i) {
    ts[i]->Wait();
    EXPECT_FALSE(ts[i]->HasError()) << ts[i]->error_.str();
    EXPECT_EQ(ts[i]->out_, chi::u64((i % 3) * 100 + 1 + i % 2));
    CHI_IPC_MANAGER->DelTask(ts[i]);
  }
}


std::string Pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (auto &ch : s) ch = static_cast<char>(rng());
  return s;
}
chi::ipc::Pointer ShmCopy(const std::string &s) {
  auto &a = CHI_IPC_MANAGER->GetAllocator();
  chi::ipc::Pointer p = a.Allocate(std::max<std::size_t>(s.size(), 1));
  std::memcpy(a.Convert(p), s.data(), s.size());
  return p;
}
std::string ShmStr(chi::ipc::Pointer p, std::size_t n) {
  return std::string(CHI_IPC_MANAGER->GetAllocator().Convert<char>(p), n);
}

TEST(MultiNodeBulk, BdevAndCompressorAcrossNodesBothDirections) {
  LocalCluster c(ClusterOptions{.nodes = 2, .extra_yaml = "shm_size: 512m\n"});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId dev = CreateEverywhere(c, "dev", "bdev", "ram,size=80m");
  chi::PoolId zip = CreateEverywhere(c, "zip", "compressor");
  auto &alloc = CHI_IPC_MANAGER->GetAllocator();
  for (int from : {0, 1}) {
    const int to = 1 - from;
    ASSERT_TRUE(c.Connect(from));
    chimaera::bdev::Client b;
    b.pool_id_ = dev;
    b.SetDomain(DomainQuery::GetGlobalNode(to));
    chimaera::compressor::Client z;
    z.pool_id_ = zip;
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{64} << 10, std::size_t{16} << 20}) {
      SCOPED_TRACE("from node " + std::to_string(from) + " to node " + std::to_string(to) + ", " +
                   std::to_string(n) + " bytes");
      const std::string data = Pattern(n, static_cast<unsigned>(n + from));
      // bdev: Write (CHI_WRITE) then Read (CHI_EXPOSE) on the other node.
      if (n > 0) {
        chi::u64 off = b.Allocate(mctx, n);
        chi::ipc::Pointer src = ShmCopy(data), dst = ShmCopy(std::string(n, '\0'));
        b.Write(mctx, off, src, n);
        b.Read(mctx, off, dst, n);
        EXPECT_TRUE(ShmStr(dst, n) == data);
        b.Free(mctx, off, n);
        alloc.Free(src);
        alloc.Free(dst);
      }
      // compressor: Compress then Decompress, both on the other node.
      const auto codec = chimaera::compressor::Codec::kZstd;
      const chi::u64 cap = chimaera::compressor::CompressBound(codec, n);
      chi::ipc::Pointer in = ShmCopy(data), packed = ShmCopy(std::string(cap, '\0')),
                        out = ShmCopy(std::string(n, '\0'));
      auto cr = z.Compress(mctx, DomainQuery::GetGlobalNode(to), codec, 3, in, n, packed, cap);
      auto dr = z.Decompress(mctx, DomainQuery::GetGlobalNode(to), codec, packed, cr.out_size, out, n);
      EXPECT_EQ(dr.out_size, n);
      EXPECT_EQ(cr.checksum, dr.checksum);
      EXPECT_TRUE(ShmStr(out, n) == data);
      alloc.Free(in);
      alloc.Free(packed);
      alloc.Free(out);
    }
  }
}

// A task rebuilt on a peer owns nothing of its bulk buffers (tasks never
// free their Pointer fields): the remote queue frees them after the reply.
// 100 writes of 1 MiB through a 64 MiB segment (each buffer takes a 2 MiB
// block) fail with out-of-memory after ~25 if they leak.
TEST(MultiNodeBulk, RebuiltTasksFreeTheirBulkBuffers) {
  LocalCluster c(ClusterOptions{.nodes = 2, .extra_yaml = "shm_size: 64m\n"});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId dev = CreateEverywhere(c, "dev", "bdev", "ram,size=4m");
  chimaera::bdev::Client b;
  b.pool_id_ = dev;
  b.SetDomain(DomainQuery::GetGlobalNode(1));
  const std::string data = Pattern(1 << 20, 7);
  chi::ipc::Pointer src = ShmCopy(data), dst = ShmCopy(std::string(data.size(), '\0'));
  const chi::u64 off = b.Allocate(mctx, data.size());
  for (int i = 0; i < 100; ++i) {
    ASSERT_NO_THROW(b.Write(mctx, off, src, data.size())) << "write " << i;
    ASSERT_NO_THROW(b.Read(mctx, off, dst, data.size())) << "read " << i;
  }
  EXPECT_TRUE(ShmStr(dst, data.size()) == data);
  CHI_IPC_MANAGER->GetAllocator().Free(src);
  CHI_IPC_MANAGER->GetAllocator().Free(dst);
}

// 100,000 remote tasks from two client processes (attached to node 0) to
// three peers: every task answered once, and each peer counted exactly the
// tasks sent to it.
TEST(MultiNode, HundredThousandRemoteTasksFromTwoClientsExactlyOnce) {
  LocalCluster c(ClusterOptions{.nodes = 4});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "count", "worktest");
  CHI_IPC_MANAGER->Finalize();
  constexpr int kPerClient = 50000, kWindow = 256;
  std::vector<pid_t> kids;
  for (int client = 0; client < 2; ++client) {
    pid_t pid = fork();
    if (pid == 0) {
      int bad = 0;
      try {
        CHI_IPC_MANAGER->ClientInit(c.Port(), LocalCluster::Host(0));
        std::vector<chi::ipc::FullPtr<WorkTask>> window;
        for (int i = 0; i < kPerClient; ++i) {
          window.push_back(Async(pool, DomainQuery::GetGlobalNode(1 + (i % 3)), Method::kCount, 0));
          if (window.size() == kWindow || i + 1 == kPerClient) {
            for (auto &t : window) {
              t->Wait();
              bad += t->HasError() || t->out_ == 0;
              CHI_IPC_MANAGER->DelTask(t);
            }
            window.clear();
          }
        }
      } catch (...) {
        _exit(3);
      }
      _exit(bad == 0 ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(ExitedWith(status, 0)) << "client exit status " << status;
  }
  ASSERT_TRUE(c.Connect(0));
  chi::u64 total = 0;
  for (int k = 1; k < 4; ++k) {
    // Node k got tasks i with i % 3 == k - 1 from each client.
    const chi::u64 expected = 2 * ((kPerClient - (k - 1) + 2) / 3);
    const chi::u64 counted = Work(pool, DomainQuery::GetGlobalNode(k), Method::kGetCount);
    EXPECT_EQ(counted, expected) << "node " << k;
    total += counted;
  }
  EXPECT_EQ(total, 2u * kPerClient);
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(0), Method::kGetCount), 0u);
}

// kill -9 of a peer during traffic: its waiting tasks fail with
// kTaskNodeUnreachable naming it within peer_dead_after + 1 s, later ones fail
// fast, the other peer keeps serving, and a restarted node (new incarnation)
// is used again.
TEST(MultiNodeFailure, KilledPeerFailsItsTasksAndItsNewIncarnationIsUsed) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "work", "worktest");
  ASSERT_TRUE(c.WaitAllAlive());
  const std::string old_incarnation = chimaera::remote_queue::Client().Peers()[1].incarnation;
  // In flight on node 1: sleeping tasks (2 s each, longer than the detection).
  std::vector<chi::ipc::FullPtr<WorkTask>> doomed;
  for (int i = 0; i < 8; ++i) doomed.push_back(Async(pool, DomainQuery::GetGlobalNode(1), Method::kSleep, 2000000));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto t0 = std::chrono::steady_clock::now();
  kill(c.Node(1).Pid(), SIGKILL);
  for (auto &t : doomed) {
    ASSERT_TRUE(t->Wait(5000000)) << "a task to the killed node hung";
    EXPECT_EQ(t->return_code_, chi::kTaskNodeUnreachable) << t->error_.str();
    EXPECT_NE(t->error_.str().find(NodeName(c, 1)), std::string::npos) << t->error_.str();
    CHI_IPC_MANAGER->DelTask(t);
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, std::chrono::milliseconds(600 + 1000));
  // Dead: fails fast; node 2 serves on.
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(WorkError(pool, DomainQuery::GetGlobalNode(1), Method::kWhere).Code(), chi::kTaskNodeUnreachable);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(200));
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(2), Method::kWhere), 2u);
  // Restart node 1: it reclaims its dead segment, says hello, and is used.
  c.Node(1).HasExited();
  c.Replace(1);
  c.Node(1).Launch();
  ASSERT_TRUE(c.Node(1).Connect()) << c.Node(1).Log();
  ASSERT_TRUE(c.Connect(0));
  ASSERT_TRUE(c.WaitAllAlive()) << c.Logs();
  const std::string new_incarnation = chimaera::remote_queue::Client().Peers()[1].incarnation;
  EXPECT_NE(new_incarnation, old_incarnation);
  // The new incarnation starts empty: give it back its container.
  EXPECT_EQ(chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetGlobalNode(1), "work", "worktest", "", pool, {},
                                                 chimaera::admin::PoolScope::kThisNode),
            pool);
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kWhere), 1u);
}

// SIGSTOP: a node that hangs without closing its sockets is detected the
// same way; after SIGCONT its late answers are dropped (the tasks already
// failed), and it serves again.
TEST(MultiNodeFailure, StoppedPeerIsDetectedAndItsLateRepliesAreDropped) {
  LocalCluster c(ClusterOptions{.nodes = 2});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  chi::PoolId pool = CreateEverywhere(c, "work", "worktest");
  ASSERT_TRUE(c.WaitAllAlive());
  std::vector<chi::ipc::FullPtr<WorkTask>> doomed;
  for (int i = 0; i < 4; ++i) doomed.push_back(Async(pool, DomainQuery::GetGlobalNode(1), Method::kSleep, 300000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(c.Node(1).Pid(), SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto &t : doomed) {
    ASSERT_TRUE(t->Wait(5000000)) << "a task to the stopped node hung";
    EXPECT_EQ(t->return_code_, chi::kTaskNodeUnreachable) << t->error_.str();
    CHI_IPC_MANAGER->DelTask(t);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(600 + 1000));
  kill(c.Node(1).Pid(), SIGCONT);
  ASSERT_TRUE(c.WaitAllAlive()) << c.Logs();
  EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(1), Method::kWhere), 1u);
  // Its answers to the failed tasks came after they failed: dropped, logged.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (c.Node(0).Log().find("which is not pending") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(c.Node(0).Log().find("which is not pending"), std::string::npos) << c.Node(0).Log();
}

TEST(MultiNodeFailure, HelloFromAnotherNodeTableIsRefusedNamingBothSides) {
  ClusterOptions o{.nodes = 2};
  o.table_override = {{1, "[127.0.0.2, 127.0.0.3, 127.0.0.250]"}};
  LocalCluster c(o);
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  // Node 0 only (node 1 cannot be reached), with a map naming both.
  chi::PoolId pool = chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetLocalHash(0), "work", "worktest", "",
                                                          chi::PoolId(), {}, chimaera::admin::PoolScope::kThisNode);
  chi::TaskError e = WorkError(pool, DomainQuery::GetGlobalNode(1), Method::kWhere);
  EXPECT_EQ(e.Code(), chi::kTaskNodeUnreachable);
  const std::string msg = e.what();
  EXPECT_NE(msg.find("node tables differ"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 nodes: 127.0.0.2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 nodes: 127.0.0.2"), std::string::npos) << msg;
  EXPECT_NE(c.Node(1).Log().find("node tables differ"), std::string::npos) << c.Node(1).Log();
}

/** Start one runtime with `yaml`; expect exit code 2 and every needle in its log. */
void ExpectStartError(const std::string &yaml, const std::vector<std::string> &needles) {
  chi::testing::RuntimeProcess rt(yaml);
  rt.Launch();
  EXPECT_TRUE(ExitedWith(rt.WaitExit(10000), 2)) << rt.Log();
  for (const auto &n : needles) EXPECT_NE(rt.Log().find(n), std::string::npos) << "missing: " << n << "\n" << rt.Log();
}

TEST(MultiNodeConfig, BadHostfilesAreStartErrorsNamingFileAndLine) {
  const std::string path = "/tmp/chi_hosts_" + std::to_string(getpid());
  std::ofstream(path) << "# cluster\n127.0.0.2\n127.0.0.3:notaport\n";
  ExpectStartError("networking:\n  hostfile: " + path + "\n  node_id: 0\n",
                   {"configuration error", path + ":3: entry '127.0.0.3:notaport'"});
  std::ofstream(path) << "127.0.0.2\n127.0.0.3\n127.0.0.2\n";
  ExpectStartError("networking:\n  hostfile: " + path + "\n  node_id: 0\n",
                   {path + ":3: entry '127.0.0.2'", "is listed twice (first at line 1)"});
  std::ofstream(path) << "10.255.255.1\n10.255.255.2\n";
  ExpectStartError("networking:\n  hostfile: " + path + "\n",
                   {"cannot tell which node this is", "10.255.255.1:", "set networking.node_id or CHI_NODE_ID"});
  std::remove(path.c_str());
}

TEST(MultiNode, StopOfEveryNodeFromOneCommand) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(1));
  ASSERT_TRUE(c.WaitAllAlive());
  EXPECT_EQ(chimaera::admin::Client().StopRuntime(mctx, DomainQuery::GetLocalHash(0),
                                                  chimaera::admin::StopScope::kAllNodes),
            3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_TRUE(ExitedWith(c.Node(k).WaitExit(10000), 0)) << c.Node(k).Log();
    EXPECT_FALSE(c.Node(k).SegmentExists()) << "node " << k;
  }
  // Ports free: each address can be bound again.
  zmq::context_t ctx;
  for (int k = 0; k < 3; ++k) {
    zmq::socket_t s(ctx, zmq::socket_type::router);
    s.set(zmq::sockopt::linger, 0);
    EXPECT_NO_THROW(s.bind("tcp://" + LocalCluster::Host(k) + ":" + std::to_string(c.Port())));
  }
}

}  // namespace
