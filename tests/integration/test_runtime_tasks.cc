// Tasks through a real runtime process: error paths (the runtime keeps
// serving), a task waiting on many subtasks with ONE worker (needs the
// coroutine design), and >= 1 M tasks from several processes and threads,
// each completed exactly once with the right output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "admin/admin_client.h"
#include "runtime_process.h"
#include "worktest/worktest_client.h"

namespace {
using chi::testing::ExitedWith;
using chi::testing::RuntimeProcess;
using chi::testing::WaitUntilWorkersPark;
using chimaera_test::worktest::Client;
using chimaera_test::worktest::Method;
using chimaera_test::worktest::WorkTask;

class RuntimeTasks : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(rt_.Start()) << rt_.Log(); }
  void TearDown() override { EXPECT_TRUE(ExitedWith(rt_.Stop(), 0)) << rt_.Log(); }
  /** Expect `fn` to throw chi::TaskError with `code`, then check the runtime still serves. */
  template <typename Fn>
  void ExpectTaskError(chi::i32 code, const std::string &needle, Fn fn) {
    try {
      fn();
      ADD_FAILURE() << "expected TaskError " << code;
    } catch (const chi::TaskError &e) {
      EXPECT_EQ(e.Code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    Client probe;
    probe.Create("probe_" + std::to_string(probes_++));
    EXPECT_EQ(probe.Call(Method::kEcho, 21), 42u);
  }
  RuntimeProcess rt_{"workers: 2\n"};
  int probes_ = 0;
};

TEST_F(RuntimeTasks, EchoRoundTrip) {
  Client c;
  c.Create("w");
  for (chi::u64 i = 0; i < 1000; ++i) ASSERT_EQ(c.Call(Method::kEcho, i, static_cast<chi::u32>(i)), 2 * i);
}

TEST_F(RuntimeTasks, ModuleExceptionBecomesTaskError) {
  Client c;
  c.Create("w");
  ExpectTaskError(chi::kTaskModuleException, "boom", [&] { c.Call(Method::kThrow, 0); });
}

TEST_F(RuntimeTasks, UnsupportedMethod) {
  Client c;
  c.Create("w");
  ExpectTaskError(chi::kTaskUnsupportedMethod, "99", [&] { c.Call(99, 0); });
}

// Dispatch checks the task's type before it casts (DESIGN.md §5): a method
// id valid for the pool's module, on a task of another module, completes
// with kTaskUnsupportedMethod naming both types. (Before, small_message's
// method 10 on a compressor pool ran Compress on an MdTask, reading and
// writing past its end; a WorkTask on a bdev pool ran Allocate.)
TEST_F(RuntimeTasks, TaskOfAnotherTypeIsRefusedNotCast) {
  auto *ipc = CHI_IPC_MANAGER;
  chimaera::admin::Client admin;
  const chi::PoolId zip = admin.CreatePool(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0), "zip", "compressor");
  const chi::PoolId dev = admin.CreatePool(chi::ipc::MemContext(), chi::DomainQuery::GetLocalHash(0), "dev", "bdev",
                                           "ram,size=1m");
  for (chi::PoolId pool : {zip, dev}) {
    for (chi::u32 method : {10u, 11u}) {
      // A worktest task (IN/OUT u64s) under the other module's method ids.
      auto t = ipc->NewTask<WorkTask>(chi::ipc::MemContext(), ipc->NewTaskNode(), pool,
                                      chi::DomainQuery::GetLocalHash(0), method, 7);
      ipc->Enqueue(t);
      t->Wait();
      EXPECT_EQ(t->return_code_, chi::kTaskUnsupportedMethod) << t->error_.str();
      EXPECT_NE(t->error_.str().find("and this task is of another type"), std::string::npos) << t->error_.str();
      EXPECT_EQ(t->out_, 0u);  // nothing ran on it
      ipc->DelTask(t);
    }
  }
  Client probe;
  probe.Create("after_wrong_types");
  EXPECT_EQ(probe.Call(Method::kEcho, 21), 42u);
}

TEST_F(RuntimeTasks, UnknownPool) {
  Client c;
  c.pool_id_ = chi::PoolId(3999);
  ExpectTaskError(chi::kTaskUnknownPool, "3999", [&] { c.Call(Method::kEcho, 1); });
}

TEST_F(RuntimeTasks, UnknownModule) {
  ExpectTaskError(chi::kTaskUnknownModule, "no_such_module", [&] {
    chimaera::admin::Client().CreatePool(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), "x",
                                         "no_such_module");
  });
}

TEST_F(RuntimeTasks, DuplicatePoolNameAndFailingCreate) {
  Client c;
  c.Create("dup");
  ExpectTaskError(chi::kTaskPoolExists, "dup", [&] { Client().Create("dup"); });
  ExpectTaskError(chi::kTaskBadArgument, "asked to fail", [&] { Client().Create("bad", "fail"); });
}

TEST_F(RuntimeTasks, DestroyPool) {
  Client c;
  c.Create("gone");
  auto has_pool = [](const std::string &name) {
    for (const auto &p : chimaera::admin::Client().ListPools(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic()))
      if (p.name == name) return true;
    return false;
  };
  EXPECT_TRUE(has_pool("admin"));
  EXPECT_TRUE(has_pool("gone"));
  chimaera::admin::Client().DestroyPool(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), c.pool_id_);
  EXPECT_FALSE(has_pool("gone"));
  ExpectTaskError(chi::kTaskUnknownPool, "", [&] { c.Call(Method::kEcho, 1); });
  ExpectTaskError(chi::kTaskUnknownPool, "", [&] {
    chimaera::admin::Client().DestroyPool(chi::ipc::MemContext(), chi::DomainQuery::GetDynamic(), c.pool_id_);
  });
  // The name is free again.
  Client again;
  again.Create("gone");
  EXPECT_EQ(again.Call(Method::kEcho, 5), 10u);
}

/** Thread `t` sends `n` echo tasks, `in_flight` at a time; returns how many
 * came back wrong (error or wrong output). */
int EchoInWindows(Client &c, int t, int n, std::size_t in_flight) {
  int bad = 0;
  std::vector<chi::ipc::FullPtr<WorkTask>> window;
  for (int i = 0; i < n; ++i) {
    chi::u64 v = static_cast<chi::u64>(t) * 1000000 + i;
    window.push_back(c.Async(Method::kEcho, v, static_cast<chi::u32>(i)));
    if (window.size() == in_flight || i == n - 1) {
      for (auto &task : window) {
        task->Wait();
        if (task->HasError() || task->out_ != task->in_ * 2) bad++;
        CHI_IPC_MANAGER->DelTask(task);
      }
      window.clear();
    }
  }
  return bad;
}

TEST_F(RuntimeTasks, AsyncManyInFlightFromThreads) {
  Client c;
  c.Create("w");
  constexpr int kThreads = 4, kPerThread = 20000, kInFlight = 64;
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      bad += EchoInWindows(c, t, kPerThread, kInFlight);
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// One worker, more busy process lanes than it holds at once
// (Worker::kMaxHeldLanes = 8): lanes are evicted from its held set and
// handed back to the active queue while tasks keep arriving on them. Every
// task still completes once with the right output.
TEST(RuntimeLanes, MoreBusyLanesThanAWorkerHolds) {
  RuntimeProcess rt("workers: 1\nlanes_per_queue: 64\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("w");
  constexpr int kThreads = 24, kPerThread = 3000, kInFlight = 16;
  std::atomic<int> bad{0};
  std::mutex mu;
  std::set<std::size_t> lanes;  // the process lanes used (IpcManager: thread-id hash)
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      {
        std::lock_guard<std::mutex> lock(mu);
        lanes.insert(std::hash<std::thread::id>()(std::this_thread::get_id()) % 64);
      }
      bad += EchoInWindows(c, t, kPerThread, kInFlight);
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(lanes.size(), 8u) << "too few distinct lanes to exceed the worker's held set";
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// One million tasks in total from 4 client processes x 2 threads, every one
// completed exactly once with the right output.
TEST(RuntimeMillion, OneMillionTasksFromSeveralProcessesAndThreads) {
  RuntimeProcess rt("workers: 2\nshm_size: 512m\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("million");
  const chi::PoolId pool = c.pool_id_;
  chi::u16 port = rt.Port();
  CHI_IPC_MANAGER->Finalize();
  constexpr int kProcs = 4, kThreads = 2, kPerThread = 125000, kInFlight = 128;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      alarm(240);
      CHI_IPC_MANAGER->ClientInit(port);
      std::atomic<long> bad{0}, done{0};
      std::vector<std::thread> ts;
      for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&, t] {
          Client cl;
          cl.pool_id_ = pool;
          std::vector<chi::ipc::FullPtr<WorkTask>> window;
          for (int i = 0; i < kPerThread; ++i) {
            chi::u64 v = (static_cast<chi::u64>(p) << 40) | (static_cast<chi::u64>(t) << 32) | i;
            window.push_back(cl.Async(Method::kEcho, v, static_cast<chi::u32>(i)));
            if (window.size() == kInFlight || i == kPerThread - 1) {
              for (auto &task : window) {
                task->Wait();
                if (task->HasError() || task->out_ != task->in_ * 2) bad++;
                done++;
                CHI_IPC_MANAGER->DelTask(task);
              }
              window.clear();
            }
          }
        });
      for (auto &t : ts) t.join();
      _exit(bad == 0 && done == kThreads * kPerThread ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(k, &status, 0), k);
    EXPECT_TRUE(ExitedWith(status, 0)) << "client process status " << status;
  }
  ASSERT_TRUE(rt.Connect());
  chi::u64 completed = 0;
  for (chi::u32 i = 0; i < CHI_IPC_MANAGER->Shared().num_workers_; ++i)
    completed += CHI_IPC_MANAGER->Workers()[i].tasks_completed_.load();
  EXPECT_GE(completed, static_cast<chi::u64>(kProcs) * kThreads * kPerThread);
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// seed 003: with ONE worker, a task that spawns and waits on many subtasks
// only completes because waiting suspends its coroutine.
TEST(RuntimeSubtasks, OneWorkerRunsParentAndManyChildren) {
  RuntimeProcess rt("workers: 1\nqueue_depth: 256\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("spawn");
  const chi::u64 n = 3000;  // more than a lane holds: exercises the full-lane yield too
  EXPECT_EQ(c.Call(Method::kSpawn, n), n * (n - 1));  // sum of 2*i
  // Several parents at once, all on the same worker.
  std::vector<chi::ipc::FullPtr<WorkTask>> parents;
  for (int i = 0; i < 8; ++i) parents.push_back(c.Async(Method::kSpawn, 200, i));
  for (auto &p : parents) {
    p->Wait();
    EXPECT_FALSE(p->HasError()) << p->error_.str();
    EXPECT_EQ(p->out_, 200u * 199u);
    CHI_IPC_MANAGER->DelTask(p);
  }
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}
// The first task a parked worker is woken for runs straight from the routing
// step (Worker::RouteTask's cold path). It must behave like any other task:
// right output, a module exception becomes a task error, and a task that
// waits on thousands of subtasks (filling lanes) still completes on ONE worker.
TEST(RuntimeSubtasks, FirstTaskAfterTheWorkerParkedBehavesLikeAnyOther) {
  RuntimeProcess rt("workers: 1\nqueue_depth: 256\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  Client c;
  c.Create("cold");
  for (chi::u64 i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitUntilWorkersPark());
    EXPECT_EQ(c.Call(Method::kEcho, i), 2 * i);
  }
  ASSERT_TRUE(WaitUntilWorkersPark());
  try {
    c.Call(Method::kThrow, 0);
    ADD_FAILURE() << "expected a TaskError";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskModuleException) << e.what();
  }
  ASSERT_TRUE(WaitUntilWorkersPark());
  const chi::u64 n = 3000;
  EXPECT_EQ(c.Call(Method::kSpawn, n), n * (n - 1));
  ASSERT_TRUE(WaitUntilWorkersPark());
  EXPECT_EQ(c.Call(Method::kEcho, 7), 14u);
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log();
}

// Pool churn: each worktest pool maps 3 lanes whose queues take shared
// memory. With idle moments between bursts, the LaneSweeper reclaims every
// destroyed pool's queues (it logs each at debug level; counted after stop).
// A destroyed pool's id stays dead even when its slot is reused.
TEST(RuntimePools, DestroyedPoolsAreReclaimedAndTheirIdsStayDead) {
  constexpr int kCycles = 300;
  RuntimeProcess rt("workers: 2\nshm_size: 64m\nlog_level: debug\n");
  ASSERT_TRUE(rt.Start()) << rt.Log();
  chimaera::admin::Client admin;
  const auto dq = chi::DomainQuery::GetDynamic();
  std::set<chi::u64> ids;
  chi::PoolId first;
  for (int i = 0; i < kCycles; ++i) {
    Client c;
    c.Create("churn" + std::to_string(i));
    ASSERT_EQ(c.Call(Method::kEcho, i), 2u * i);
    EXPECT_TRUE(ids.insert(c.pool_id_.id_).second) << "pool id reused: " << c.pool_id_.ToString();
    if (i == 0) first = c.pool_id_;
    admin.DestroyPool(chi::ipc::MemContext(), dq, c.pool_id_);
    if (i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  // A task addressed to the first (long destroyed) pool finds no pool.
  Client stale;
  stale.pool_id_ = first;
  try {
    stale.Call(Method::kEcho, 1);
    ADD_FAILURE() << "expected kTaskUnknownPool";
  } catch (const chi::TaskError &e) {
    EXPECT_EQ(e.Code(), chi::kTaskUnknownPool) << e.what();
  }
  // Nor can it be requested again: it would reach the old pool's clients.
  try {
    admin.CreatePool(chi::ipc::MemContext(), dq, "again", "worktest", "", first);
    ADD_FAILURE() << "a destroyed pool's id was handed out again";
  } catch (const chi::TaskError &e) {
    EXPECT_NE(std::string(e.what()).find("was used before"), std::string::npos) << e.what();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the last burst's reclamation
  EXPECT_TRUE(ExitedWith(rt.Stop(), 0)) << rt.Log().substr(0, 2000);
  // Every destroyed pool, and the refused "again" container, was reclaimed.
  const std::string log = rt.Log();
  int reclaimed = 0;
  for (std::size_t pos = 0; (pos = log.find("lane(s) of retired pool", pos)) != std::string::npos; ++pos) ++reclaimed;
  EXPECT_EQ(reclaimed, kCycles + 1);
}
}  // namespace
