#include "chimaera/core/task_error.h"

namespace chi {

const char *TaskErrorName(i32 code) noexcept {
  switch (code) {
    case kTaskOk: return "ok";
    case kTaskUnknownPool: return "unknown pool";
    case kTaskUnsupportedMethod: return "unsupported method";
    case kTaskModuleException: return "module exception";
    case kTaskRuntimeStopping: return "runtime stopping";
    case kTaskRuntimeDead: return "runtime dead";
    case kTaskBadArgument: return "bad argument";
    case kTaskUnknownModule: return "unknown module";
    case kTaskPoolExists: return "pool exists";
    case kTaskTimedOut: return "timed out";
    case kTaskNodeUnreachable: return "node unreachable";
    default: return code >= kModuleErrorBase ? "module error" : "error";
  }
}

}  // namespace chi
