// Pools across nodes (DESIGN.md §7 "DomainQuery kinds", seeds 000/001
// "Worker"): one CreatePool makes a pool on every node with one id and one
// container -> node map; every DomainQuery kind reaches the container it
// names (the worktest task reports the container and node that ran it);
// broadcast and range tasks fan out and merge; create and destroy are
// cluster-wide and all-or-none. Real runtime processes on 127.0.0.2.., real
// ZeroMQ sockets.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "admin/admin_client.h"
#include "local_cluster.h"
#include "work_calls.h"

namespace {
using chi::DomainQuery;
using chi::testing::ClusterOptions;
using chi::testing::LocalCluster;
using chi::testing::Work;
using chi::testing::WorkError;
using chimaera::admin::PoolScope;
using chimaera_test::worktest::Method;

const chi::ipc::MemContext mctx;

chi::PoolId Create(const std::string &name, const std::vector<chi::u32> &nodes = {}) {
  return chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetDynamic(), name, "worktest", "", chi::PoolId(),
                                              nodes);
}

/** The attached node's view of pool `name` (empty nodes: it has none). */
chimaera::admin::Client::PoolDesc Find(const std::string &name) {
  for (auto &p : chimaera::admin::Client().ListPools(mctx, DomainQuery::GetDynamic()))
    if (p.name == name) return p;
  return {};
}

chi::u64 Bits(std::initializer_list<int> bits) {
  chi::u64 m = 0;
  for (int b : bits) m |= chi::u64{1} << b;
  return m;
}

bool Contains(const chi::TaskError &e, const std::string &s) { return std::string(e.what()).find(s) != std::string::npos; }

// Pool "odd" has container 0 on node 2 and container 1 on node 0 (node 1
// has none), so a container id, a node id and a hash all differ.
TEST(ClusterPools, EveryDomainQueryKindReachesTheContainerItNames) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  ASSERT_TRUE(c.WaitAllAlive()) << c.Logs();
  const chi::PoolId odd = Create("odd", {2, 0});
  EXPECT_EQ(Find("odd").nodes, (std::vector<chi::u32>{2, 0}));
  // kContainer: container * 100 + node.
  EXPECT_EQ(Work(odd, DomainQuery::GetDirectId(0), Method::kContainer), 2u);
  EXPECT_EQ(Work(odd, DomainQuery::GetDirectId(1), Method::kContainer), 100u);
  EXPECT_EQ(Work(odd, DomainQuery::GetGlobalNode(2), Method::kContainer), 2u);
  EXPECT_EQ(Work(odd, DomainQuery::GetGlobalNode(0), Method::kContainer), 100u);
  EXPECT_EQ(Work(odd, DomainQuery::GetLocalHash(7), Method::kContainer), 100u);
  EXPECT_EQ(Work(odd, DomainQuery::GetLocalId(1), Method::kContainer), 100u);
  EXPECT_EQ(Work(odd, DomainQuery::GetDynamic(), Method::kContainer), 100u);
  for (chi::u32 h = 0; h < 8; ++h)
    EXPECT_EQ(Work(odd, DomainQuery::GetDirectHash(h), Method::kContainer), h % 2 == 0 ? 2u : 100u) << h;
  // Fan-out: kContainer merges to a bit per container, kWhere a bit per node.
  EXPECT_EQ(Work(odd, DomainQuery::GetBroadcast(), Method::kContainer), Bits({0, 1}));
  EXPECT_EQ(Work(odd, DomainQuery::GetBroadcast(), Method::kWhere), Bits({0, 2}));
  EXPECT_EQ(Work(odd, DomainQuery::GetRange(1, 1), Method::kWhere), Bits({0}));
  EXPECT_EQ(Work(odd, DomainQuery::GetRange(0, 2), Method::kContainer), Bits({0, 1}));
  // A fan-out task without a merge hook keeps the first replica's outputs.
  const chi::u64 echo = Work(odd, DomainQuery::GetBroadcast(), Method::kEcho, 21);
  EXPECT_EQ(echo, 42u);

  // Errors say what the query named and where it is.
  chi::TaskError e = WorkError(odd, DomainQuery::GetGlobalNode(1), Method::kWhere);
  EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
  EXPECT_TRUE(Contains(e, "pool 'odd' has no container on node 1 (its containers are on nodes [2, 0])")) << e.what();
  e = WorkError(odd, DomainQuery::GetLocalId(0), Method::kWhere);
  EXPECT_TRUE(Contains(e, "container 0 of pool 'odd' is on node 2, not on this node")) << e.what();
  EXPECT_TRUE(Contains(e, "use GetDirectId(0)")) << e.what();
  e = WorkError(odd, DomainQuery::GetDirectId(2), Method::kWhere);
  EXPECT_TRUE(Contains(e, "has containers 0..1, not 2")) << e.what();
  e = WorkError(odd, DomainQuery::GetRange(1, 5), Method::kWhere);
  EXPECT_TRUE(Contains(e, "range 1+5 of pool 'odd' is empty or past its containers 0..1")) << e.what();
  e = WorkError(odd, DomainQuery(), Method::kWhere);
  EXPECT_TRUE(Contains(e, "the task has no DomainQuery")) << e.what();

  // From node 1, which has no container of "odd": local kinds are errors,
  // dynamic tasks go to the pool's containers elsewhere.
  ASSERT_TRUE(c.Connect(1));
  EXPECT_EQ(Find("odd").id, odd);
  e = WorkError(odd, DomainQuery::GetLocalHash(0), Method::kWhere);
  EXPECT_TRUE(Contains(e, "pool 'odd' has no container on this node (node 1)")) << e.what();
  std::set<chi::u64> ran_on;
  for (int i = 0; i < 8; ++i) ran_on.insert(Work(odd, DomainQuery::GetDynamic(), Method::kWhere));
  EXPECT_EQ(ran_on, (std::set<chi::u64>{0, 2}));
  EXPECT_EQ(Work(odd, DomainQuery::GetDirectId(0), Method::kContainer), 2u);
  EXPECT_EQ(Work(odd, DomainQuery::GetBroadcast(), Method::kWhere), Bits({0, 2}));
}

// GetDirectHash(h) is container h % N on every node: clients attached to
// different nodes reach the same container with the same key.
TEST(ClusterPools, SameHashReachesTheSameContainerFromEveryNode) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  const chi::PoolId pool = Create("kv");
  std::vector<std::vector<chi::u64>> seen(3);
  for (int from = 0; from < 3; ++from) {
    ASSERT_TRUE(c.Connect(from));
    for (chi::u32 h = 0; h < 48; ++h) seen[from].push_back(Work(pool, DomainQuery::GetDirectHash(h * 7919), Method::kContainer));
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[0], seen[2]);
  std::set<chi::u64> containers(seen[0].begin(), seen[0].end());
  EXPECT_EQ(containers, (std::set<chi::u64>{0, 101, 202}));  // container k on node k, all used
  for (chi::u32 h = 0; h < 48; ++h) EXPECT_EQ(seen[0][h] / 100, (h * 7919) % 3);
}

// A broadcast reaches every container once; a counter merges by sum; a dead
// node fails the broadcast naming it, within the failure-detection time.
TEST(ClusterPools, BroadcastToFourNodesAndOneKilled) {
  LocalCluster c(ClusterOptions{.nodes = 4});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  ASSERT_TRUE(c.WaitAllAlive()) << c.Logs();
  const chi::PoolId pool = Create("all");
  EXPECT_EQ(Work(pool, DomainQuery::GetBroadcast(), Method::kWhere), Bits({0, 1, 2, 3}));
  for (int i = 0; i < 5; ++i) Work(pool, DomainQuery::GetBroadcast(), Method::kCount);
  EXPECT_EQ(Work(pool, DomainQuery::GetBroadcast(), Method::kGetCount), 20u);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(Work(pool, DomainQuery::GetGlobalNode(k), Method::kGetCount), 5u) << k;
  // A throwing replica: the broadcast fails naming every container.
  chi::TaskError e = WorkError(pool, DomainQuery::GetRange(2, 2), Method::kThrow);
  EXPECT_EQ(e.Code(), chi::kTaskModuleException);
  EXPECT_TRUE(Contains(e, "2 of 2 replicas failed: container ")) << e.what();
  EXPECT_TRUE(Contains(e, "(node 2)")) << e.what();
  EXPECT_TRUE(Contains(e, "(node 3)")) << e.what();

  kill(c.Node(3).Pid(), SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  e = WorkError(pool, DomainQuery::GetBroadcast(), Method::kWhere);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(e.Code(), chi::kTaskNodeUnreachable) << e.what();
  EXPECT_TRUE(Contains(e, "1 of 4 replicas failed: container 3 (node 3)")) << e.what();
  EXPECT_TRUE(Contains(e, "127.0.0.5")) << e.what();
  EXPECT_LT(took, std::chrono::milliseconds(600 + 1500));  // peer_dead_after + margin
  // The other nodes serve on.
  EXPECT_EQ(Work(pool, DomainQuery::GetRange(0, 3), Method::kWhere), Bits({0, 1, 2}));
}

// One CreatePool creates the pool on every node (one id, one map); a name
// taken on any node is refused, and nothing is left behind; DestroyPool
// removes it everywhere; a node down fails the create naming it.
TEST(ClusterPools, CreateAndDestroyAreClusterWideAndAllOrNone) {
  LocalCluster c(ClusterOptions{.nodes = 3});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(1));
  ASSERT_TRUE(c.WaitAllAlive()) << c.Logs();
  const chi::PoolId a = Create("a");
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(c.Connect(k));
    const auto p = Find("a");
    EXPECT_EQ(p.id, a) << "node " << k;
    EXPECT_EQ(p.module, "chimaera_test::worktest");
    EXPECT_EQ(p.nodes, (std::vector<chi::u32>{0, 1, 2})) << "node " << k;
  }
  // The name is taken from every node's point of view.
  try {
    Create("a");
    ADD_FAILURE() << "a second pool 'a' was created";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskPoolExists);
  }
  // A name only node 2 uses: refused naming node 2, and nodes 0 and 1 keep nothing.
  chimaera::admin::Client().CreatePool(mctx, DomainQuery::GetLocalHash(0), "mine", "worktest", "", chi::PoolId(), {},
                                       PoolScope::kThisNode);
  ASSERT_TRUE(c.Connect(0));
  try {
    Create("mine");
    ADD_FAILURE() << "'mine' was created although node 2 has one";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskPoolExists);
    EXPECT_TRUE(Contains(e, "cannot create pool 'mine' on every node: node 2 (127.0.0.4:")) << e.what();
    EXPECT_TRUE(Contains(e, "(no node kept it)")) << e.what();
  }
  EXPECT_TRUE(Find("mine").nodes.empty());
  // A broadcast ListPools merges every node's list (AggregateListPools).
  bool merged_has_mine = false;
  for (const auto &p : chimaera::admin::Client().ListPools(mctx, DomainQuery::GetBroadcast()))
    merged_has_mine |= p.name == "mine";
  EXPECT_TRUE(merged_has_mine);
  ASSERT_TRUE(c.Connect(1));
  EXPECT_TRUE(Find("mine").nodes.empty());
  // Bad node lists.
  for (const auto &nodes : {std::vector<chi::u32>{0, 0}, std::vector<chi::u32>{5}}) {
    try {
      Create("bad", nodes);
      ADD_FAILURE() << "created with a bad node list";
    } catch (const chi::TaskError &e) {
      EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
      EXPECT_TRUE(Contains(e, "listed twice") || Contains(e, "node 5 is not in the cluster (3 nodes)")) << e.what();
    }
  }
  // Destroy from node 1: gone on every node.
  chimaera::admin::Client().DestroyPool(mctx, DomainQuery::GetDynamic(), a);
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(c.Connect(k));
    EXPECT_TRUE(Find("a").nodes.empty()) << "node " << k;
  }
  // Node 2 down: the create fails naming it and rolls back on nodes 0, 1.
  kill(c.Node(2).Pid(), SIGKILL);
  ASSERT_TRUE(c.Connect(0));
  try {
    Create("b");
    ADD_FAILURE() << "created with node 2 down";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskNodeUnreachable);
    EXPECT_TRUE(Contains(e, "node 2 (127.0.0.4:")) << e.what();
  }
  EXPECT_TRUE(Find("b").nodes.empty());
  ASSERT_TRUE(c.Connect(1));
  EXPECT_TRUE(Find("b").nodes.empty());
  // On the nodes that are up, a pool on those nodes only still works.
  const chi::PoolId two = Create("two", {0, 1});
  EXPECT_EQ(Work(two, DomainQuery::GetBroadcast(), Method::kWhere), Bits({0, 1}));
}

// Dynamic tasks are spread: over the workers of this node's container, and
// over the pool's containers on other nodes when this node has none.
TEST(ClusterPools, DynamicTasksSpreadOverWorkersAndNodes) {
  LocalCluster c(ClusterOptions{.nodes = 3, .workers = 2});
  ASSERT_TRUE(c.Start()) << c.Logs();
  ASSERT_TRUE(c.Connect(0));
  const chi::PoolId pool = Create("spread");
  std::set<chi::u64> workers;
  for (int i = 0; i < 32; ++i) workers.insert(Work(pool, DomainQuery::GetDynamic(), Method::kWorker));
  EXPECT_EQ(workers.size(), 2u) << "every dynamic task ran on one worker";
  const chi::PoolId elsewhere = Create("elsewhere", {1, 2});
  std::set<chi::u64> nodes;
  for (int i = 0; i < 32; ++i) nodes.insert(Work(elsewhere, DomainQuery::GetDynamic(), Method::kWhere));
  EXPECT_EQ(nodes, (std::set<chi::u64>{1, 2}));
}

}  // namespace
