// Global scheduling (issue 13 §4, seeds 000/001 "Worker": Dynamic ->
// Monitor(kGlobalSchedule)): the compressor places GetDynamic() tasks on the
// node with the least estimated queued work, from the load figures nodes
// exchange with their heartbeats plus the requests in flight to them. Where
// tasks ran is read from each node's per-worker completion counters.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_client.h"
#include "compressor/compressor_client.h"
#include "local_cluster.h"
#include "remote_queue/remote_queue_client.h"

namespace {
using chi::DomainQuery;
using chi::testing::ClusterOptions;
using chi::testing::LocalCluster;
using chimaera::compressor::Codec;

const chi::ipc::MemContext mctx;

/** Tasks the attached node's workers completed so far. */
chi::u64 CompletedOn(LocalCluster &c, int k) {
  EXPECT_TRUE(c.Connect(k));
  auto *ipc = CHI_IPC_MANAGER;
  chi::u64 sum = 0;
  for (chi::u32 w = 0; w < ipc->Shared().num_workers_; ++w) sum += ipc->Workers()[w].tasks_completed_.load();
  return sum;
}

/** Compressible bytes that still take zstd a while at high levels. */
std::string Text(std::size_t n) {
  static std::string cached;
  if (cached.size() >= n) return cached.substr(0, n);
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; s.size() < n; ++i) s += "record " + std::to_string(i * 2654435761u % 100003) + " ok; ";
  s.resize(n);
  cached = s;
  return s;
}

struct Job {
  chi::ipc::Pointer in, out;
  chi::ipc::FullPtr<chimaera::compressor::CompressTask> task;
};

class GlobalSchedule : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start()) << cluster_.Logs();
    ASSERT_TRUE(cluster_.Connect(0));
    ASSERT_TRUE(cluster_.WaitAllAlive()) << cluster_.Logs();
    zip_.pool_id_ = chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetDynamic(), "zip", "compressor");
  }
  Job Submit(const DomainQuery &dom, std::size_t n, int level) {
    auto &a = CHI_IPC_MANAGER->GetAllocator();
    const std::string data = Text(n);
    const chi::u64 cap = chimaera::compressor::CompressBound(Codec::kZstd, n);
    Job j{a.Allocate(n), a.Allocate(cap), {}};
    std::memcpy(a.Convert(j.in), data.data(), n);
    j.task = zip_.AsyncCompress(mctx, dom, Codec::kZstd, level, j.in, n, j.out, cap);
    return j;
  }
  void Finish(std::vector<Job> &jobs) {
    for (Job &j : jobs) {
      ASSERT_TRUE(j.task->Wait(60000000)) << "a compress task hung";
      EXPECT_FALSE(j.task->HasError()) << j.task->error_.str();
      CHI_IPC_MANAGER->DelTask(j.task);
      CHI_IPC_MANAGER->GetAllocator().Free(j.in);
      CHI_IPC_MANAGER->GetAllocator().Free(j.out);
    }
    jobs.clear();
  }
  /** The load figure (µs of queued work) node 0 sends with its heartbeats,
   * read on node 0 (chimaera status shows the same). */
  chi::u64 HeartbeatLoadOfNode0() {
    for (const auto &p : chimaera::remote_queue::Client().Peers())
      if (p.node == 0) return p.load;
    ADD_FAILURE() << "node 0 is missing from its own peer list";
    return 0;
  }
  /** Queue `heavy` 256 KiB tasks by `load` (hash i: over node 0's lanes and
   * so over both its workers), wait until node 0's heartbeats carry at least
   * `min_load_us` of queued work (for a local load), then submit `dynamic`
   * 1 MiB GetDynamic() tasks from node 0, all at once or each after the
   * previous one finished (`one_at_a_time`); returns how many more tasks node
   * 1 completed than the heavy ones it was given. */
  chi::i64 DynamicTasksOnNode1(int heavy, const DomainQuery &load, chi::u64 min_load_us, int dynamic,
                               bool one_at_a_time = false) {
    const chi::u64 before = CompletedOn(cluster_, 1);
    EXPECT_TRUE(cluster_.Connect(0));
    std::vector<Job> jobs;
    for (int i = 0; i < heavy; ++i) {
      const bool local = load.GetKind() == DomainQuery::kLocalHash;
      jobs.push_back(Submit(local ? DomainQuery::GetLocalHash(i) : load, 256 << 10, 12));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    chi::u64 seen = 0;
    while (min_load_us > 0 && (seen = HeartbeatLoadOfNode0()) < min_load_us &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_GE(seen, min_load_us) << "node 0 never reported its backlog of " << heavy << " tasks";
    for (int i = 0; i < dynamic; ++i) {
      jobs.push_back(Submit(DomainQuery::GetDynamic(), 1 << 20, 1));
      if (one_at_a_time) Finish(jobs);
    }
    Finish(jobs);
    const bool heavy_on_1 = load.GetKind() == DomainQuery::kGlobalNode && load.GetSelector() == 1;
    return static_cast<chi::i64>(CompletedOn(cluster_, 1) - before) - (heavy_on_1 ? heavy : 0);
  }

  LocalCluster cluster_{ClusterOptions{.nodes = 2, .workers = 2, .rpc_timeout = "30s", .extra_yaml = "shm_size: 512m\n"}};
  chimaera::compressor::Client zip_;
};

// Node 0 has ~0.5 s of estimated queued work (400 x 1311 µs), and says so in
// its heartbeats before the dynamic tasks come: they run on node 1, whose
// estimate (its load plus the requests in flight to it, each at 5243 µs)
// stays below node 0's while 8 are placed. With the Monitor call removed,
// none moves.
TEST_F(GlobalSchedule, DynamicTasksLeaveTheLoadedNode) {
  const chi::i64 moved = DynamicTasksOnNode1(400, DomainQuery::GetLocalHash(0), 200000, 8);
  EXPECT_GE(moved, 7) << "the dynamic tasks stayed on the loaded node\n" << cluster_.Logs();
}

// Both idle, one task at a time: each dynamic task stays on the node that
// got it (node 0 has no queued work; node 1 would cost one task more).
TEST_F(GlobalSchedule, DynamicTasksStayWhenNoNodeIsLoaded) {
  const chi::i64 moved = DynamicTasksOnNode1(0, DomainQuery::GetLocalHash(0), 0, 8, /*one_at_a_time=*/true);
  EXPECT_EQ(moved, 0) << "idle nodes sent dynamic tasks away";
}

// Node 1 is busy with work sent to it (400 requests in flight): dynamic
// tasks stay on node 0.
TEST_F(GlobalSchedule, DynamicTasksAvoidABusyPeer) {
  const chi::i64 moved = DynamicTasksOnNode1(400, DomainQuery::GetGlobalNode(1), 0, 8);
  EXPECT_LT(moved, 4) << "dynamic tasks went to the busy peer";
}

}  // namespace
