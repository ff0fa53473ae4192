#include "chimaera/core/task_error.h"

#include "chimaera/core/task.h"

namespace chi {

u64 TaskTypeIdOf(const char *mangled_name, std::size_t size) noexcept {
  u64 h = 1469598103934665603ull;
  for (const char *p = mangled_name; *p; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= 1099511628211ull;
  }
  h ^= size;
  h *= 1099511628211ull;
  return h ? h : 1;
}

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
