// A module declared with the task schema (tests/integration/kvstore, issue
// 14) through a real runtime: the generated client's sync and async calls of
// every field type and direction, errors from handlers and from too small
// output buffers, tasks of another module's type refused without a cast, and
// the generated serialization across two nodes (every field travels).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvstore_schema.h"
#include "local_cluster.h"
#include "small_message/small_message_tasks.h"

namespace {
using chi::DomainQuery;
using chi::testing::ExitedWith;
using chi::testing::LocalCluster;
using chi::testing::RuntimeProcess;
namespace kv = chimaera_test::kvstore;

/** Every schema method of kvstore through `c`, wherever its domain points. */
void ExerciseEveryMethod(kv::GeneratedClient &c) {
  const std::string big(100000, 'x');  // more than one archive chunk
  c.Put("a", "alpha");
  c.Put("big", big);
  c.Put("empty", "");
  kv::GetResult got = c.Get("a");
  EXPECT_TRUE(got.found);
  EXPECT_EQ(got.value, "alpha");
  EXPECT_EQ(c.Get("big", big.size()).value, big);
  got = c.Get("empty");
  EXPECT_TRUE(got.found);
  EXPECT_EQ(got.value, "");
  got = c.Get("nope");
  EXPECT_FALSE(got.found);
  EXPECT_EQ(got.value, "");

  // The default 64 KiB buffer cannot hold 100000 bytes: an error naming the
  // field and the size, not truncated data.
  try {
    c.Get("big");
    ADD_FAILURE() << "a too small output buffer succeeded";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
    EXPECT_NE(std::string(e.what()).find("'value' has 100000 bytes"), std::string::npos) << e.what();
  }

  kv::StatsResult st = c.Stats();
  EXPECT_EQ(st.keys, 3u);
  std::vector<chi::u64> sizes = st.sizes;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<chi::u64>{0, 5, big.size()}));
  EXPECT_EQ(st.name, "kv");

  kv::EchoResult echo = c.Echo(1.25, 1, "abc", 41);
  EXPECT_EQ(echo.blob, "bcdbcd");
  EXPECT_EQ(echo.count, 42u);
  EXPECT_EQ(echo.scaled, 2.5);
  // A handler's error: the doubled blob does not fit the 4-byte buffer.
  try {
    c.Echo(1, 0, "abc", 0, 4);
    ADD_FAILURE() << "Echo into a too small buffer succeeded";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }

  // Async: many in flight, then each waited for in turn.
  std::vector<chi::ipc::FullPtr<kv::PutTask>> puts;
  for (int i = 0; i < 200; ++i) puts.push_back(c.AsyncPut("k" + std::to_string(i), std::to_string(i * i)));
  for (auto &t : puts) kv::GeneratedClient::WaitPut(t);
  std::vector<chi::ipc::FullPtr<kv::GetTask>> gets;
  for (int i = 0; i < 200; ++i) gets.push_back(c.AsyncGet("k" + std::to_string(i), 16));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(kv::GeneratedClient::WaitGet(gets[i]).value, std::to_string(i * i));
  EXPECT_TRUE(c.Erase("a"));
  EXPECT_FALSE(c.Erase("a"));
  EXPECT_FALSE(c.Get("a").found);
}

TEST(SchemaModule, GeneratedClientCallsEveryFieldTypeOnOneNode) {
  RuntimeProcess rt("workers: 2\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  kv::GeneratedClient c;
  c.Create("kv", "", DomainQuery::GetLocalHash(0));
  ExerciseEveryMethod(c);
  c.Destroy();
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// small_message's method 10 on a kvstore pool: kvstore's 10 is Put, whose
// task is larger; the dispatch must refuse the MdTask instead of casting it.
TEST(SchemaModule, TaskOfAnotherModuleIsRefusedNotCast) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  kv::GeneratedClient c;
  c.Create("kv");
  auto *ipc = CHI_IPC_MANAGER;
  auto md = ipc->NewTask<chimaera::small_message::MdTask>(chi::ipc::MemContext(), ipc->NewTaskNode(), c.pool_id_,
                                                          DomainQuery::GetLocalHash(0));
  ASSERT_EQ(md->method_, kv::Method::kPut);
  ipc->Enqueue(md);
  md->Wait();
  EXPECT_EQ(md->return_code_, chi::kTaskUnsupportedMethod);
  EXPECT_NE(md->error_.str().find("takes a chimaera_test::kvstore::PutTask"), std::string::npos) << md->error_.str();
  ipc->DelTask(md);
  c.Put("still", "serving");
  EXPECT_TRUE(c.Get("still").found);
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// The generated SerializeIn / SerializeOut: the same calls with the pool's
// container on the other node, so every field crosses the network both ways.
TEST(SchemaModule, EveryFieldTravelsToAnotherNodeAndBack) {
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start()) << cluster.Logs();
  ASSERT_TRUE(cluster.Connect(0));
  ASSERT_TRUE(cluster.WaitAllAlive()) << cluster.Logs();
  chimaera::admin::Client admin;
  const chi::ipc::MemContext mctx;
  const chi::PoolId id = admin.CreatePool(mctx, DomainQuery::GetDynamic(), "kv", "chimaera_test::kvstore");
  kv::GeneratedClient c;
  c.pool_id_ = id;
  c.SetDomain(DomainQuery::GetGlobalNode(1));
  ExerciseEveryMethod(c);
  // Node 0's own container saw none of it.
  c.SetDomain(DomainQuery::GetGlobalNode(0));
  EXPECT_EQ(c.Stats().keys, 0u);
}

}  // namespace
