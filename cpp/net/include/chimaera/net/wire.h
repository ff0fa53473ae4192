#pragma once
/**
 * @file wire.h
 * The wire format between Chimaera nodes (DESIGN.md §7 "Transport"). A
 * message is one ZeroMQ multipart message; this file knows only its frames,
 * not sockets and not tasks. All integers are little-endian.
 *
 *   frame 0   MessageHeader, 32 bytes:
 *             u32 magic 'CHIW' | u16 protocol | u8 type | u8 0 | u32 sender node
 *             | u32 record count | u64 sender incarnation | u64 target incarnation
 *   kHello, kHelloAck   frame 1: HelloBody (u32 ABI version, u32 node count,
 *                       u64 cluster identity, u32 n + n bytes node table text)
 *   kRefuse             frame 1: the reason (UTF-8, at most kMaxTextBytes)
 *   kHeartbeat          frame 1: u64 load (estimated queued work, µs)
 *   kGoodbye            no body: the sender is stopping
 *   kRequests, kReplies frame 0 goes on after the header with every record:
 *                       a 16-byte record header (u64 request id, u32 bulk
 *                       frame count, u32 inline length n), then n inline bytes
 *                       (what the remote queue put there: its task bytes);
 *                       frames 1.. are the records' bulk buffers, in record
 *                       order. A message of small tasks is one frame: ZeroMQ's
 *                       cost is per frame.
 *
 * The target incarnation is the receiver's incarnation as the sender knows
 * it (0 in a hello, which may reach any incarnation): a request or reply
 * meant for an earlier run of the receiver is recognised and dropped.
 *
 * Frames come from the network and are untrusted: DecodeMessage checks every
 * size and count against the frames actually present and the limits below,
 * and never reads outside a frame. Thread-safety: pure functions.
 */
#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chimaera/ipc/types.h"

namespace chi::net {

inline constexpr u32 kWireMagic = 0x57494843;  // bytes "CHIW"
/** Bump when the frame layout changes; a hello of another version is refused. */
inline constexpr u16 kProtocolVersion = 2;
inline constexpr std::size_t kHeaderBytes = 32;
inline constexpr std::size_t kRecordHeaderBytes = 16;
inline constexpr std::size_t kMaxTextBytes = 4096;        /**< refuse reason, node table text */
inline constexpr u32 kMaxRecordsPerMessage = 4096;
inline constexpr u32 kMaxBulkFramesPerRecord = 64;        /**< bulk buffers of one task */

enum class MessageType : u8 {
  kHello = 1,
  kHelloAck = 2,
  kRefuse = 3,
  kHeartbeat = 4,
  kRequests = 5,
  kReplies = 6,
  kGoodbye = 7,
};
/** "hello", "requests", ... ("unknown" otherwise). */
const char *MessageTypeName(MessageType t) noexcept;

struct MessageHeader {
  MessageType type = MessageType::kHeartbeat;
  u32 sender_node = 0;
  u32 record_count = 0;
  u64 sender_incarnation = 0;
  u64 target_incarnation = 0;
};

struct HelloBody {
  u32 abi_version = 0;
  u32 num_nodes = 0;
  u64 cluster_identity = 0;
  std::string table_text;  /**< NodeTable::Describe(), for messages; truncated to kMaxTextBytes */
};

/** A request or reply inside a message: its inline bytes are
 * [inline_offset, inline_offset + inline_size) of frame 0, its bulk buffers
 * frames [first_bulk_frame, first_bulk_frame + bulk_frames). */
struct Record {
  u64 id = 0;
  u32 inline_offset = 0;
  u32 inline_size = 0;
  u32 first_bulk_frame = 0;
  u32 bulk_frames = 0;
};

struct DecodedMessage {
  MessageHeader header;
  HelloBody hello;              /**< kHello, kHelloAck */
  std::string text;             /**< kRefuse */
  u64 load = 0;                 /**< kHeartbeat */
  std::vector<Record> records;  /**< kRequests, kReplies */
};

using FrameView = std::span<const u8>;

std::array<u8, kHeaderBytes> EncodeHeader(const MessageHeader &h) noexcept;
std::string EncodeHello(const HelloBody &b);
std::array<u8, 8> EncodeLoad(u64 load) noexcept;
/** Write one record (header + inline bytes) at `out`, which has
 * kRecordHeaderBytes + inline_bytes.size() bytes of room. */
void EncodeRecord(u8 *out, u64 id, u32 bulk_frames, std::string_view inline_bytes) noexcept;

/** Validate and decode a received message. Returns std::nullopt and sets
 * `*error` ("frame 0 is 7 bytes, a header needs 32", "record 3 claims 9
 * payload frames, 2 remain", ...) when the frames are malformed, truncated,
 * oversized or of another protocol version. */
std::optional<DecodedMessage> DecodeMessage(std::span<const FrameView> frames, std::string *error);

// Little-endian helpers, also used by the remote queue's payload header.
inline void PutU32(u8 *p, u32 v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<u8>(v >> (8 * i));
}
inline void PutU64(u8 *p, u64 v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<u8>(v >> (8 * i));
}
inline u32 GetU32(const u8 *p) noexcept {
  u32 v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<u32>(p[i]) << (8 * i);
  return v;
}
inline u64 GetU64(const u8 *p) noexcept {
  u64 v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<u64>(p[i]) << (8 * i);
  return v;
}

}  // namespace chi::net
