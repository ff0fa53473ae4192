#pragma once
/**
 * @file task_error.h
 * Return codes carried by every task (Task::return_code_), and the exception
 * client helpers throw when a task completed with an error. A module's own
 * error codes start at kModuleErrorBase.
 */
#include <stdexcept>
#include <string>

#include "chimaera/ipc/types.h"

namespace chi {

enum TaskErrorCode : i32 {
  kTaskOk = 0,
  kTaskUnknownPool = 1,       /**< no pool with the task's PoolId */
  kTaskUnsupportedMethod = 2, /**< the module has no such method (or it is -1 in its yaml) */
  kTaskModuleException = 3,   /**< the module's Run threw; the message is the exception's what() */
  kTaskRuntimeStopping = 4,   /**< the runtime stopped before running the task */
  kTaskRuntimeDead = 5,       /**< the runtime died while the client waited (set client-side) */
  kTaskBadArgument = 6,       /**< the task's input was rejected by the module */
  kTaskUnknownModule = 7,     /**< CreatePool named a module the runtime did not load */
  kTaskPoolExists = 8,        /**< CreatePool with a name already in use */
  kTaskTimedOut = 9,          /**< a client wait, or a remote task's rpc_timeout, expired */
  kTaskNodeUnreachable = 10,  /**< the task's node is dead, refused this node, or never answered (DESIGN.md §7) */
  kModuleErrorBase = 1000,
};

/** Human-readable name of a code ("unknown pool", ...). */
const char *TaskErrorName(i32 code) noexcept;

/** Thrown by client helpers when a task completed with return_code_ != 0. */
class TaskError : public std::runtime_error {
 public:
  TaskError(i32 code, const std::string &msg) : std::runtime_error(msg), code_(code) {}
  i32 Code() const noexcept { return code_; }

 private:
  i32 code_;
};

/** Thrown by client code when no runtime is reachable (connect or wait). */
class RuntimeUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace chi
