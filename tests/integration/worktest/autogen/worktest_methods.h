#pragma once
#include "chimaera/ipc/types.h"
namespace chimaera_test::worktest {
struct Method {
  static constexpr chi::u32 kCreate = 0;
  static constexpr chi::u32 kDestroy = 1;
  static constexpr chi::u32 kEcho = 10;
  static constexpr chi::u32 kSpawn = 11;
  static constexpr chi::u32 kThrow = 12;
  static constexpr chi::u32 kSleep = 13;
};
}  // namespace chimaera_test::worktest
