// The runtime as a real process: start from defaults and from YAML, refuse a
// live runtime's segment, reclaim a dead one's, stop cleanly on SIGINT/SIGTERM
// and on kStopRuntime, leave no shm behind, reject bad configuration.
#include <gtest/gtest.h>

#include "admin/admin_client.h"
#include "runtime_process.h"
#include "small_message/small_message_client.h"

namespace {
using chi::testing::ExitedWith;
using chi::testing::RuntimeProcess;

TEST(RuntimeLifecycle, StartsFromDefaultsServesAndStopsOnSigterm) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  chimaera::small_message::Client sm;
  sm.Create(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), "sm");
  EXPECT_FALSE(sm.pool_id_.IsNull());
  sm.Md(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0));
  EXPECT_TRUE(ExitedWith(rt.Stop(SIGTERM), 0)) << rt.Log();
  EXPECT_FALSE(rt.SegmentExists());
}

TEST(RuntimeLifecycle, SigintStopsGracefully) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  EXPECT_TRUE(ExitedWith(rt.Stop(SIGINT), 0)) << rt.Log();
  EXPECT_FALSE(rt.SegmentExists());
  EXPECT_NE(rt.Log().find("SIGINT"), std::string::npos);
}

TEST(RuntimeLifecycle, StopRuntimeTaskStopsAndUnlinks) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  chimaera::admin::Client().StopRuntime(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic());
  EXPECT_TRUE(ExitedWith(rt.Stop(0), 0)) << rt.Log();
  EXPECT_FALSE(rt.SegmentExists());
}

TEST(RuntimeLifecycle, StartStopCyclesLeaveNoShm) {
  chi::u16 port = chi::testing::UniquePort();
  for (int i = 0; i < 5; ++i) {
    RuntimeProcess rt("", port);
    ASSERT_TRUE(rt.Start()) << "cycle " << i << "\n" << rt.Log();
    chimaera::small_message::Client sm;
    sm.Create(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), "sm");
    sm.Md(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0));
    ASSERT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
    ASSERT_FALSE(rt.SegmentExists()) << "cycle " << i;
  }
}

TEST(RuntimeLifecycle, RefusesToStartOverALiveRuntime) {
  RuntimeProcess first;
  ASSERT_TRUE(first.Start()) << first.Log();
  RuntimeProcess second("", first.Port());
  second.Launch();
  int status = second.WaitExit();
  EXPECT_TRUE(ExitedWith(status, 1)) << status;
  EXPECT_NE(second.Log().find("live"), std::string::npos) << second.Log();
  // The first runtime is untouched and still serves.
  chimaera::small_message::Client sm;
  sm.Create(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), "sm");
  sm.Md(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0));
  EXPECT_TRUE(ExitedWith(first.Stop(), 0));
}

TEST(RuntimeLifecycle, ReclaimsADeadRuntimesSegment) {
  RuntimeProcess dead;
  ASSERT_TRUE(dead.Start()) << dead.Log();
  dead.Stop(SIGKILL);
  ASSERT_TRUE(dead.SegmentExists());  // left behind by kill -9
  RuntimeProcess next("", dead.Port());
  ASSERT_TRUE(next.Start()) << next.Log();
  chimaera::small_message::Client sm;
  sm.Create(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), "sm");
  sm.Md(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0));
  EXPECT_TRUE(ExitedWith(next.Stop(), 0));
  EXPECT_FALSE(next.SegmentExists());
}

TEST(RuntimeLifecycle, StartsFromYamlConfig) {
  RuntimeProcess rt("workers: 1\nlanes_per_queue: 2\nqueue_depth: 64\nshm_size: 64m\nlog_level: debug\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  EXPECT_EQ(CHI_IPC_MANAGER->Shared().num_workers_, 1u);
  EXPECT_EQ(CHI_IPC_MANAGER->ProcessQueue().GetNumLanes(), 2u);
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0));
}

TEST(RuntimeLifecycle, BadConfigExitsWithTheKeyNamed) {
  RuntimeProcess rt("workers: 2\nwrokers: 3\n");
  rt.Launch();
  int status = rt.WaitExit();
  EXPECT_TRUE(ExitedWith(status, 2)) << status;
  EXPECT_NE(rt.Log().find("wrokers"), std::string::npos) << rt.Log();
  EXPECT_FALSE(rt.SegmentExists());
}

TEST(RuntimeLifecycle, ClientWithoutRuntimeGetsAClearError) {
  chi::u16 port = chi::testing::UniquePort();
  try {
    CHI_IPC_MANAGER->ClientInit(port);
    FAIL() << "ClientInit should throw";
  } catch (const chi::RuntimeUnavailable &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(std::to_string(port)), std::string::npos) << msg;
    EXPECT_NE(msg.find("running"), std::string::npos) << msg;
  }
}

// A client built with another kChimaeraAbiVersion (another Task layout) must
// not touch the runtime's queues: the version in the segment is compared.
TEST(RuntimeLifecycle, ClientRefusesARuntimeOfAnotherAbiVersion) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  chi::RuntimeShared &shared = CHI_IPC_MANAGER->Shared();
  shared.abi_version_ = chi::kChimaeraAbiVersion + 1;  // what an older/newer runtime would publish
  CHI_IPC_MANAGER->Finalize();
  try {
    CHI_IPC_MANAGER->ClientInit(rt.Port());
    FAIL() << "ClientInit should refuse another ABI version";
  } catch (const chi::RuntimeUnavailable &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("ABI version " + std::to_string(chi::kChimaeraAbiVersion + 1)), std::string::npos) << msg;
    EXPECT_NE(msg.find("this client has ABI version " + std::to_string(chi::kChimaeraAbiVersion)), std::string::npos)
        << msg;
  }
  EXPECT_FALSE(CHI_IPC_MANAGER->IsInitialized());
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

TEST(RuntimeLifecycle, HelpAndUnknownArguments) {
  std::string cmd = std::string(CHI_RUNTIME_EXE) + " --help";
  EXPECT_EQ(system((cmd + " > /dev/null").c_str()), 0);
  EXPECT_NE(system((std::string(CHI_RUNTIME_EXE) + " --bogus 2> /dev/null").c_str()), 0);
}
}  // namespace
