// Process failures: a client killed with -9 during load does not disturb the
// runtime; a runtime killed with -9 makes waiting clients fail within ~1 s;
// stopping with tasks in flight fails them with kTaskRuntimeStopping; an idle
// runtime parks its workers instead of spinning.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "admin/admin_client.h"
#include "chimaera/ipc/process_id.h"
#include "runtime_process.h"
#include "worktest/worktest_client.h"

namespace {
using chi::testing::ExitedWith;
using chi::testing::RuntimeProcess;
using chi::testing::WaitUntilWorkersPark;
using chimaera_test::worktest::Client;
using chimaera_test::worktest::Method;
using chimaera_test::worktest::WorkTask;
using Clock = std::chrono::steady_clock;

TEST(RuntimeFailures, ClientKilledDuringLoadDoesNotStopTheRuntime) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  chi::PoolId pool = c.pool_id_;
  chi::u16 port = rt.Port();
  for (int round = 0; round < 3; ++round) {
    pid_t pid = fork();
    if (pid == 0) {
      CHI_IPC_MANAGER->Finalize();
      CHI_IPC_MANAGER->ClientInit(port);
      Client cl;
      cl.pool_id_ = pool;
      for (chi::u64 i = 0;; ++i) {  // async storm, never waits: killed mid-flight
        cl.Async(Method::kEcho, i, static_cast<chi::u32>(i));
        if (i % 64 == 0) cl.Call(Method::kEcho, i);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    for (chi::u64 i = 0; i < 1000; ++i) ASSERT_EQ(c.Call(Method::kEcho, i, static_cast<chi::u32>(i)), 2 * i);
  }
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

/** In a forked client process attached to the runtime on `port`, apply
 * `fn` to every process-queue lane, then exit (leaving whatever `fn` did, as
 * a client that dies there would). Returns once the child is reaped. */
template <typename Fn>
void RunInChildClient(chi::u16 port, Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    CHI_IPC_MANAGER->Finalize();
    CHI_IPC_MANAGER->ClientInit(port);
    chi::TaskQueue &pq = CHI_IPC_MANAGER->ProcessQueue();
    for (chi::u32 l = 0; l < pq.GetNumLanes(); ++l) fn(pq.GetLane(l));
    _exit(0);
  }
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
}

// Deterministic version of a client killed inside Enqueue: the child claims
// the next slot of EVERY process-queue lane (with its own pid) and exits
// without publishing them, as a client SIGKILLed between the claim and the
// publish would. Every later task sits behind such a slot, so the runtime
// must notice the dead claimant and skip it (MpscQueue::RecoverDeadProducer).
TEST(RuntimeFailures, ClientKilledInsideEnqueueDoesNotWedgeTheQueue) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  RunInChildClient(rt.Port(), [](chi::TaskLane &lane) {
    lane.Queue().ClaimWithoutPublishForTesting(chi::ipc::ThisProcessId());
  });
  for (chi::u64 i = 0; i < 1000; ++i) ASSERT_EQ(c.Call(Method::kEcho, i, static_cast<chi::u32>(i)), 2 * i);
  EXPECT_NE(rt.Log().find("died inside Enqueue"), std::string::npos) << rt.Log();
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// The same with the lane HELD by its worker (TaskQueue file comment: its flag
// stays set, so producers do not schedule it and the worker polls it
// directly): the only worker is busy with a 0.3 s task when the child claims
// and exits, so every later task queues behind a dead claim in a held lane.
TEST(RuntimeFailures, ClientKilledInsideEnqueueOfAHeldLane) {
  RuntimeProcess rt("workers: 1\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  auto busy = c.Async(Method::kSleep, 300 * 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the worker runs it, holding our lane
  ASSERT_FALSE(busy->IsComplete());
  RunInChildClient(rt.Port(), [](chi::TaskLane &lane) {
    lane.Queue().ClaimWithoutPublishForTesting(chi::ipc::ThisProcessId());
  });
  for (chi::u64 i = 0; i < 100; ++i) ASSERT_EQ(c.Call(Method::kEcho, i, static_cast<chi::u32>(i)), 2 * i);
  busy->Wait();
  EXPECT_EQ(busy->return_code_, chi::kTaskOk);
  CHI_IPC_MANAGER->DelTask(busy);
  EXPECT_NE(rt.Log().find("died inside Enqueue"), std::string::npos) << rt.Log();
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// A client killed between flagging a lane as scheduled and pushing it onto
// the worker's active queue: the child sets the flag of every process lane
// and exits. Producers now see the flag set and do not schedule the lanes;
// the LaneSweeper must find them (Worker::SweepIfParked).
TEST(RuntimeFailures, LaneFlaggedByADeadClientIsRescheduled) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  ASSERT_TRUE(WaitUntilWorkersPark());  // so no worker holds a lane: the flag is the dead client's
  RunInChildClient(rt.Port(), [](chi::TaskLane &lane) { lane.Header().in_active_.store(1); });
  auto t0 = Clock::now();
  for (chi::u64 i = 0; i < 100; ++i) ASSERT_EQ(c.Call(Method::kEcho, i, static_cast<chi::u32>(i)), 2 * i);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 10.0);
  EXPECT_NE(rt.Log().find("flagged but not scheduled"), std::string::npos) << rt.Log();
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// A client killed inside TaskQueue::Schedule, after flagging its lane and
// claiming a slot of the worker's active queue but before publishing the slot
// and ringing: the child does both for EVERY process lane and worker. Later
// producers skip scheduling (flag set), nothing rings, and idle workers park
// with no timeout: only the LaneSweeper can notice (it rings a parked worker
// whose active queue is not empty; the worker skips the dead claim).
TEST(RuntimeFailures, ClientKilledInsideScheduleIsFoundByTheSweeper) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  ASSERT_TRUE(WaitUntilWorkersPark());
  RunInChildClient(rt.Port(), [](chi::TaskLane &lane) {
    lane.Header().in_active_.store(1);
    if (lane.Header().lane_id_ != 0) return;
    for (chi::u32 w = 0; w < CHI_IPC_MANAGER->Shared().num_workers_; ++w)
      chi::ipc::FullPtr<chi::ActiveQueue>(CHI_IPC_MANAGER->Workers()[w].active_queue_)
          ->ClaimWithoutPublishForTesting(chi::ipc::ThisProcessId());
  });
  for (chi::u64 i = 0; i < 100; ++i) ASSERT_EQ(c.Call(Method::kEcho, i, static_cast<chi::u32>(i)), 2 * i);
  EXPECT_NE(rt.Log().find("active queue: skipped a slot claimed by process"), std::string::npos) << rt.Log();
  EXPECT_NE(rt.Log().find("flagged but not scheduled"), std::string::npos) << rt.Log();
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

TEST(RuntimeFailures, WaitingClientGetsAnErrorWhenTheRuntimeDies) {
  RuntimeProcess rt("workers: 1\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  auto slow = c.Async(Method::kSleep, 30 * 1000 * 1000);  // 30 s: will never finish
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pid_t pid = rt.Pid();
  std::thread killer([pid] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    kill(pid, SIGKILL);
  });
  auto t0 = Clock::now();
  slow->Wait();
  double waited_s = std::chrono::duration<double>(Clock::now() - t0).count();
  killer.join();
  EXPECT_EQ(slow->return_code_, chi::kTaskRuntimeDead);
  EXPECT_LT(waited_s, 0.2 + 1.5) << "error must arrive within about a second of the death";
  rt.WaitExit();
}

TEST(RuntimeFailures, StopFailsTasksStillInFlight) {
  RuntimeProcess rt("workers: 1\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  auto blocker = c.Async(Method::kSleep, 300 * 1000);  // occupies the only worker for 0.3 s
  std::vector<chi::ipc::FullPtr<WorkTask>> queued;
  for (int i = 0; i < 50; ++i) queued.push_back(c.Async(Method::kEcho, i));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(rt.Pid(), SIGTERM);
  blocker->Wait();
  int failed = 0;
  for (auto &t : queued) {
    t->Wait();
    if (t->return_code_ == chi::kTaskRuntimeStopping) {
      failed++;
    } else {
      EXPECT_EQ(t->return_code_, chi::kTaskOk);  // drained: ran to completion
      EXPECT_EQ(t->out_, t->in_ * 2);
    }
  }
  EXPECT_GT(failed, 0);  // queued behind the blocker when the stop came
  EXPECT_TRUE(ExitedWith(rt.Stop(0), 0)) << rt.Log();
  EXPECT_FALSE(rt.SegmentExists());
}

// Idle workers park on their doorbell. A busy-spinning runtime would burn
// ~2 cores here; the bound is loose on purpose (exact figures: benchmarks).
TEST(RuntimeFailures, IdleRuntimeParks) {
  RuntimeProcess rt;
  ASSERT_TRUE(rt.Start()) << rt.Log();
  auto cpu_ticks = [&] {
    std::ifstream in("/proc/" + std::to_string(rt.Pid()) + "/stat");
    std::string line;
    std::getline(in, line);
    std::istringstream f(line.substr(line.rfind(')') + 2));
    std::string tok;
    long utime = 0, stime = 0;
    for (int i = 0; f >> tok; ++i) {
      if (i == 11) utime = std::stol(tok);
      if (i == 12) { stime = std::stol(tok); break; }
    }
    return utime + stime;
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long before = cpu_ticks();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long used = cpu_ticks() - before;  // clock ticks (1/100 s)
  EXPECT_LT(used, 20) << "idle runtime used " << used << " ticks in 2 s";
  // And a task sent to the parked runtime is still served.
  Client c;
  c.Create("w");
  EXPECT_EQ(c.Call(Method::kEcho, 4), 8u);
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0));
}
}  // namespace
