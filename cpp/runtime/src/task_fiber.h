#pragma once
// TaskFiber: a reusable coroutine (Boost.Context fiber) that runs one task at
// a time for its worker. A task that blocks keeps its fiber suspended until
// the worker resumes it; a task that finishes returns its fiber to the pool.
// Stacks have a guard page: a module that overflows its stack faults
// instead of corrupting memory. The RunContext of the task a fiber runs lives
// in the fiber (one object, one pool). Private to the runtime library.
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#include "chimaera/runtime/worker.h"

namespace chi {

struct TaskFiber {
  boost::context::fiber cont_;    // resumes the fiber (held by the worker while suspended)
  boost::context::fiber worker_;  // returns to the worker (held by the fiber while running)
  RunContext ctx_;                // context of the task this fiber runs
  RunContext *rctx_ = nullptr;    // &ctx_ while a task runs or is suspended, else nullptr

  TaskFiber(Worker *owner, std::size_t stack_bytes) {
    cont_ = boost::context::fiber(std::allocator_arg, boost::context::protected_fixedsize_stack(stack_bytes),
                                  [this, owner](boost::context::fiber &&w) {
                                    worker_ = std::move(w);
                                    for (;;) {
                                      owner->RunTaskBody(rctx_);
                                      rctx_ = nullptr;
                                      worker_ = std::move(worker_).resume();
                                    }
                                    return std::move(worker_);
                                  });
  }
  /** Worker side: run/resume until the fiber finishes its task or blocks. */
  void Enter() { cont_ = std::move(cont_).resume(); }
  /** Fiber side: return control to the worker. */
  void Leave() { worker_ = std::move(worker_).resume(); }
};

}  // namespace chi
