#pragma once
/**
 * @file shm_error.h
 * Exceptions of the ipc layer. Following cppzmq's rule (STYLE.md), expected
 * conditions (queue full, allocator out of memory, timeout) are return values;
 * these exceptions are for real failures: a segment that cannot be created or
 * attached, a shm container that cannot grow.
 */
#include <new>
#include <stdexcept>
#include <string>

namespace chi::ipc {

/** A shared-memory segment could not be created, attached or validated.
 * The message names the segment and the reason (errno text, owner pid, ...). */
class ShmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** A shm container (string, vector) could not get memory from its allocator.
 * Derives from std::bad_alloc so generic handlers catch it. */
class ShmOutOfMemory : public std::bad_alloc {
 public:
  const char *what() const noexcept override { return "chimaera shared-memory allocator is out of memory"; }
};

}  // namespace chi::ipc
