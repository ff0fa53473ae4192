#pragma once
// Method ids of the admin module (from chimaera_mod.yaml). Hand-written until
// the generator lands (issue: code generation).
#include "chimaera/ipc/types.h"

namespace chimaera::admin {
struct Method {
  static constexpr chi::u32 kCreate = 0;
  static constexpr chi::u32 kDestroy = 1;
  static constexpr chi::u32 kCreatePool = 10;
  static constexpr chi::u32 kDestroyPool = 11;
  static constexpr chi::u32 kStopRuntime = 12;
};
}  // namespace chimaera::admin
