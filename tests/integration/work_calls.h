#pragma once
// Calls of the worktest module shared by the multi-node tests: submit a
// WorkTask with a DomainQuery, wait, return its out_ or its error. The
// client must be attached (LocalCluster::Connect / RuntimeProcess::Start).
// Not thread-safe across Connect calls.
#include <gtest/gtest.h>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/core/task.h"
#include "chimaera/core/task_error.h"
#include "worktest/worktest_tasks.h"

namespace chi::testing {

inline chi::ipc::FullPtr<chimaera_test::worktest::WorkTask> AsyncWork(chi::PoolId pool, chi::DomainQuery dom,
                                                                     chi::u32 method, chi::u64 in = 0) {
  auto *ipc = CHI_IPC_MANAGER;
  auto t = ipc->NewTask<chimaera_test::worktest::WorkTask>(chi::ipc::MemContext(), ipc->NewTaskNode(), pool, dom,
                                                           method, in);
  ipc->Enqueue(t);
  return t;
}

/** Run a worktest task; returns out_, or throws chi::TaskError. */
inline chi::u64 Work(chi::PoolId pool, chi::DomainQuery dom, chi::u32 method, chi::u64 in = 0) {
  auto t = AsyncWork(pool, dom, method, in);
  t->Wait();
  const chi::u64 out = t->out_;
  const bool err = t->HasError();
  chi::TaskError e(t->return_code_, t->error_.str());
  CHI_IPC_MANAGER->DelTask(t);
  if (err) throw e;
  return out;
}

/** The TaskError of a task expected to fail (a test failure if it succeeds). */
inline chi::TaskError WorkError(chi::PoolId pool, chi::DomainQuery dom, chi::u32 method, chi::u64 in = 0) {
  try {
    Work(pool, dom, method, in);
  } catch (const chi::TaskError &e) {
    return e;
  }
  ADD_FAILURE() << "the task succeeded";
  return chi::TaskError(0, "");
}

}  // namespace chi::testing
