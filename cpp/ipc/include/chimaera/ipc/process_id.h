#pragma once
/**
 * @file process_id.h
 * This process's pid, cached (glibc no longer caches getpid) and refreshed in
 * a fork()ed child. MpscQueue records it in a slot it claims so that the
 * consumer can recover the slot if this process dies mid-Push.
 * Thread-safety: any thread; async-signal-safe reads.
 */
#include "chimaera/ipc/types.h"

namespace chi::ipc {

/** getpid() of the calling process, from a cache refreshed after fork(). */
u32 ThisProcessId() noexcept;

/** True only on positive evidence that `pid` no longer runs: it does not
 * exist (ESRCH) or is a zombie. False when /proc cannot be read. Costs a
 * /proc read (~10 µs): for rare recovery paths only. */
bool IsProcessDead(u32 pid) noexcept;

}  // namespace chi::ipc
