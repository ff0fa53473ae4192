#pragma once
/**
 * @file queue_status.h
 * Result of a non-blocking queue operation (MpscQueue, MultiMpscQueue).
 * Full and empty are expected conditions, reported as values, never as
 * exceptions (STYLE.md, cppzmq model).
 */

namespace chi::ipc {

enum class QueueStatus {
  kOk,    /**< the item was pushed / popped / peeked */
  kFull,  /**< Push: every slot is taken (or claimed); nothing was written */
  kEmpty, /**< Pop / Peek: no published item at the head; `out` is untouched */
};

}  // namespace chi::ipc
