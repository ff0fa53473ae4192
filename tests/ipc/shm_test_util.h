#pragma once
// Helpers shared by the ipc tests: unique segment names per test process so
// parallel ctest runs never collide, and a guard that unlinks on scope exit.
#include <unistd.h>

#include <atomic>
#include <string>

#include "chimaera/ipc/segment.h"

namespace chi::ipc::testing {

inline std::string UniqueSegmentName(const std::string &tag) {
  static std::atomic<int> counter{0};
  return Segment::MakeName("test_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
}

/** Unlinks the name when the test ends, even when an assertion fails. */
struct UnlinkGuard {
  std::string name;
  ~UnlinkGuard() { Segment::Unlink(name); }
};

}  // namespace chi::ipc::testing
