#pragma once
// Tasks of the test module: one task type with IN/OUT integers serves all
// methods, which keeps the tests short.
#include "admin/admin_tasks.h"
#include "chimaera/core/task_archives.h"
#include "worktest_methods.h"

namespace chimaera_test::worktest {
using CreateTask = chimaera::admin::CreatePoolTask;
using DestroyTask = chimaera::admin::DestroyPoolTask;

struct WorkTask : public chi::Task {
  IN chi::u64 in_ = 0;
  OUT chi::u64 out_ = 0;
  explicit WorkTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc) {}
  WorkTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &node, const chi::PoolId &pool,
           const chi::DomainQuery &dom, chi::u32 method, chi::u64 in)
      : chi::Task(alloc), in_(in) {
    task_node_ = node;
    pool_ = pool;
    method_ = method;
    dom_query_ = dom;
  }

  template <typename Ar>
  void SerializeIn(Ar &ar) {
    ar(in_);
  }
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(out_);
  }
};
}  // namespace chimaera_test::worktest
