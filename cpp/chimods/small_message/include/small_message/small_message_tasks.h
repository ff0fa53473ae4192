#pragma once
/** @file small_message_tasks.h  Tasks of small_message: an empty task (kMd). */
#include "admin/admin_tasks.h"
#include "chimaera/core/task_archives.h"
#include "small_message_methods.h"

namespace chimaera::small_message {
using CreateTask = chimaera::admin::CreatePoolTask;
using DestroyTask = chimaera::admin::DestroyPoolTask;

/** An empty task: no inputs, no outputs. */
struct MdTask : public chi::Task {
  explicit MdTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc) {}
  MdTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &task_node, const chi::PoolId &pool_id,
         const chi::DomainQuery &dom_query)
      : chi::Task(alloc) {
    task_node_ = task_node;
    pool_ = pool_id;
    method_ = Method::kMd;
    dom_query_ = dom_query;
  }

  template <typename Ar>
  void SerializeIn(Ar &) {}
  template <typename Ar>
  void SerializeOut(Ar &) {}
};
}  // namespace chimaera::small_message
