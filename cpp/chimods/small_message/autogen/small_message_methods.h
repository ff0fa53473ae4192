#pragma once
// Method ids of small_message (from chimaera_mod.yaml). Hand-written until the generator lands.
#include "chimaera/ipc/types.h"

namespace chimaera::small_message {
struct Method {
  static constexpr chi::u32 kCreate = 0;
  static constexpr chi::u32 kDestroy = 1;
  static constexpr chi::u32 kMd = 10;
};
}  // namespace chimaera::small_message
