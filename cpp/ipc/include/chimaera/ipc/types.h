#pragma once
/**
 * @file types.h
 * Fixed-width integer aliases and small constants shared by every layer of
 * Chimaera. Seed-style code uses `u32`, `u64`, ... (seeds 000-004).
 */
#include <cstddef>
#include <cstdint>

namespace chi {
using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i32 = std::int32_t;
using i64 = std::int64_t;
}  // namespace chi

namespace chi::ipc {
using chi::u8;
using chi::u16;
using chi::u32;
using chi::u64;
using chi::i32;
using chi::i64;

/** Size of a cache line on the x86-64 machines we target, in bytes. Used to
 * keep producer- and consumer-owned atomics apart (false sharing). */
inline constexpr std::size_t kCacheLineBytes = 64;

/** Bump this whenever the layout of anything placed in shared memory changes;
 * a process refuses to attach to a segment written by another layout version. */
inline constexpr u32 kShmLayoutVersion = 1;
}  // namespace chi::ipc

/** Seed-style alias: seeds write `hipc::Pointer`, `hipc::FullPtr<T>`, ... */
namespace hipc = chi::ipc;
