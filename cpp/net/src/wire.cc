/**
 * @file wire.cc
 * Encoding and validating decoding of the node-to-node frames (wire.h).
 */
#include "chimaera/net/wire.h"

#include <cstring>

namespace chi::net {

const char *MessageTypeName(MessageType t) noexcept {
  switch (t) {
    case MessageType::kHello: return "hello";
    case MessageType::kHelloAck: return "hello-ack";
    case MessageType::kRefuse: return "refuse";
    case MessageType::kHeartbeat: return "heartbeat";
    case MessageType::kRequests: return "requests";
    case MessageType::kReplies: return "replies";
    case MessageType::kGoodbye: return "goodbye";
  }
  return "unknown";
}

std::array<u8, kHeaderBytes> EncodeHeader(const MessageHeader &h) noexcept {
  std::array<u8, kHeaderBytes> b{};
  PutU32(&b[0], kWireMagic);
  b[4] = static_cast<u8>(kProtocolVersion);
  b[5] = static_cast<u8>(kProtocolVersion >> 8);
  b[6] = static_cast<u8>(h.type);
  b[7] = 0;
  PutU32(&b[8], h.sender_node);
  PutU32(&b[12], h.record_count);
  PutU64(&b[16], h.sender_incarnation);
  PutU64(&b[24], h.target_incarnation);
  return b;
}

std::string EncodeHello(const HelloBody &body) {
  const std::string text = body.table_text.substr(0, kMaxTextBytes);
  std::string b(20 + text.size(), '\0');
  auto *p = reinterpret_cast<u8 *>(b.data());
  PutU32(p, body.abi_version);
  PutU32(p + 4, body.num_nodes);
  PutU64(p + 8, body.cluster_identity);
  PutU32(p + 16, static_cast<u32>(text.size()));
  std::memcpy(p + 20, text.data(), text.size());
  return b;
}

std::array<u8, 8> EncodeLoad(u64 load) noexcept {
  std::array<u8, 8> b{};
  PutU64(b.data(), load);
  return b;
}

void EncodeRecord(u8 *out, u64 id, u32 bulk_frames, std::string_view inline_bytes) noexcept {
  PutU64(out, id);
  PutU32(out + 8, bulk_frames);
  PutU32(out + 12, static_cast<u32>(inline_bytes.size()));
  if (!inline_bytes.empty()) std::memcpy(out + kRecordHeaderBytes, inline_bytes.data(), inline_bytes.size());
}

std::optional<DecodedMessage> DecodeMessage(std::span<const FrameView> frames, std::string *error) {
  auto fail = [&](std::string why) -> std::optional<DecodedMessage> {
    *error = std::move(why);
    return std::nullopt;
  };
  if (frames.empty()) return fail("empty message");
  const FrameView h = frames[0];
  const bool has_records = h.size() >= 7 && (h[6] == static_cast<u8>(MessageType::kRequests) ||
                                             h[6] == static_cast<u8>(MessageType::kReplies));
  if (has_records ? h.size() < kHeaderBytes : h.size() != kHeaderBytes)
    return fail("frame 0 is " + std::to_string(h.size()) + " bytes, a header has " + std::to_string(kHeaderBytes));
  if (GetU32(&h[0]) != kWireMagic) return fail("not a Chimaera message (bad magic)");
  const u16 proto = static_cast<u16>(h[4] | (h[5] << 8));
  if (proto != kProtocolVersion)
    return fail("protocol version " + std::to_string(proto) + ", this node speaks " +
                std::to_string(kProtocolVersion));
  DecodedMessage m;
  m.header.type = static_cast<MessageType>(h[6]);
  m.header.sender_node = GetU32(&h[8]);
  m.header.record_count = GetU32(&h[12]);
  m.header.sender_incarnation = GetU64(&h[16]);
  m.header.target_incarnation = GetU64(&h[24]);
  const std::string type_name = MessageTypeName(m.header.type);
  auto expect_frames = [&](std::size_t n) -> bool {
    if (frames.size() == n) return true;
    *error = type_name + " message has " + std::to_string(frames.size()) + " frames, expected " + std::to_string(n);
    return false;
  };
  switch (m.header.type) {
    case MessageType::kHello:
    case MessageType::kHelloAck: {
      if (!expect_frames(2)) return std::nullopt;
      const FrameView b = frames[1];
      if (b.size() < 20) return fail(type_name + " body is " + std::to_string(b.size()) + " bytes, at least 20 needed");
      m.hello.abi_version = GetU32(&b[0]);
      m.hello.num_nodes = GetU32(&b[4]);
      m.hello.cluster_identity = GetU64(&b[8]);
      const u32 n = GetU32(&b[16]);
      if (n > kMaxTextBytes || n != b.size() - 20)
        return fail(type_name + " node table text claims " + std::to_string(n) + " bytes, " +
                    std::to_string(b.size() - 20) + " present");
      m.hello.table_text.assign(reinterpret_cast<const char *>(b.data()) + 20, n);
      return m;
    }
    case MessageType::kRefuse: {
      if (!expect_frames(2)) return std::nullopt;
      if (frames[1].size() > kMaxTextBytes) return fail("refuse reason of " + std::to_string(frames[1].size()) +
                                                        " bytes exceeds " + std::to_string(kMaxTextBytes));
      m.text.assign(reinterpret_cast<const char *>(frames[1].data()), frames[1].size());
      return m;
    }
    case MessageType::kHeartbeat: {
      if (!expect_frames(2)) return std::nullopt;
      if (frames[1].size() != 8) return fail("heartbeat body is " + std::to_string(frames[1].size()) + " bytes, not 8");
      m.load = GetU64(frames[1].data());
      return m;
    }
    case MessageType::kGoodbye:
      if (!expect_frames(1)) return std::nullopt;
      return m;
    case MessageType::kRequests:
    case MessageType::kReplies: {
      const u32 count = m.header.record_count;
      if (count == 0 || count > kMaxRecordsPerMessage)
        return fail(type_name + " message with " + std::to_string(count) + " records (1.." +
                    std::to_string(kMaxRecordsPerMessage) + " allowed)");
      // Each record needs at least its header: bound the allocation by what
      // is present, not by what the sender claims.
      if (count > (h.size() - kHeaderBytes) / kRecordHeaderBytes)
        return fail(type_name + " message claims " + std::to_string(count) + " records in " +
                    std::to_string(h.size() - kHeaderBytes) + " bytes");
      m.records.reserve(count);
      std::size_t pos = kHeaderBytes, next_frame = 1;
      for (u32 r = 0; r < count; ++r) {
        if (h.size() - pos < kRecordHeaderBytes)
          return fail("record " + std::to_string(r) + " of " + std::to_string(count) + " is missing");
        Record rec;
        rec.id = GetU64(&h[pos]);
        rec.bulk_frames = GetU32(&h[pos + 8]);
        rec.inline_size = GetU32(&h[pos + 12]);
        pos += kRecordHeaderBytes;
        if (rec.inline_size > h.size() - pos)
          return fail("record " + std::to_string(r) + " claims " + std::to_string(rec.inline_size) + " inline bytes, " +
                      std::to_string(h.size() - pos) + " remain");
        if (rec.bulk_frames > kMaxBulkFramesPerRecord)
          return fail("record " + std::to_string(r) + " has " + std::to_string(rec.bulk_frames) +
                      " bulk frames (at most " + std::to_string(kMaxBulkFramesPerRecord) + ")");
        if (rec.bulk_frames > frames.size() - next_frame)
          return fail("record " + std::to_string(r) + " claims " + std::to_string(rec.bulk_frames) +
                      " bulk frames, " + std::to_string(frames.size() - next_frame) + " remain");
        rec.inline_offset = static_cast<u32>(pos);
        rec.first_bulk_frame = static_cast<u32>(next_frame);
        pos += rec.inline_size;
        next_frame += rec.bulk_frames;
        m.records.push_back(rec);
      }
      if (pos != h.size())
        return fail(type_name + " message has " + std::to_string(h.size() - pos) + " bytes after its last record");
      if (next_frame != frames.size())
        return fail(type_name + " message has " + std::to_string(frames.size() - next_frame) +
                    " frames after its last record's bulk");
      return m;
    }
  }
  return fail("unknown message type " + std::to_string(static_cast<unsigned>(h[6])));
}

}  // namespace chi::net
