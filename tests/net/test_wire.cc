// Wire format: encode/decode round trips, and every kind of malformed input
// is rejected with a reason instead of being trusted.
#include "chimaera/net/wire.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

using namespace chi::net;
using chi::u32;
using chi::u64;
using chi::u8;

namespace {
struct Msg {
  std::vector<std::vector<u8>> frames;
  template <typename C>
  Msg &Add(const C &c) {
    frames.emplace_back(reinterpret_cast<const u8 *>(c.data()), reinterpret_cast<const u8 *>(c.data()) + c.size());
    return *this;
  }
  std::optional<DecodedMessage> Decode(std::string *err) const {
    std::vector<FrameView> v;
    for (auto &f : frames) v.emplace_back(f.data(), f.size());
    return DecodeMessage(v, err);
  }
};
MessageHeader H(MessageType t, u32 records = 0) {
  MessageHeader h;
  h.type = t;
  h.sender_node = 3;
  h.record_count = records;
  h.sender_incarnation = 0x1122334455667788ull;
  h.target_incarnation = 42;
  return h;
}
std::string Error(const Msg &m) {
  std::string err;
  EXPECT_FALSE(m.Decode(&err).has_value());
  return err;
}
}  // namespace

TEST(Wire, HelloRoundTrip) {
  HelloBody b{7, 4, 0xdeadbeefcafeull, "4 nodes: a:1, b:1, c:1, d:1"};
  std::string err;
  auto m = Msg().Add(EncodeHeader(H(MessageType::kHello))).Add(EncodeHello(b)).Decode(&err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->header.type, MessageType::kHello);
  EXPECT_EQ(m->header.sender_node, 3u);
  EXPECT_EQ(m->header.sender_incarnation, 0x1122334455667788ull);
  EXPECT_EQ(m->header.target_incarnation, 42u);
  EXPECT_EQ(m->hello.abi_version, 7u);
  EXPECT_EQ(m->hello.num_nodes, 4u);
  EXPECT_EQ(m->hello.cluster_identity, 0xdeadbeefcafeull);
  EXPECT_EQ(m->hello.table_text, b.table_text);
}

/** Frame 0 of a kRequests/kReplies message: header, then records. */
std::string Records(chi::u32 count, std::vector<std::tuple<u64, u32, std::string>> recs) {
  auto h = EncodeHeader(H(MessageType::kRequests, count));
  std::string f(reinterpret_cast<const char *>(h.data()), h.size());
  for (auto &[id, bulk, bytes] : recs) {
    std::string r(kRecordHeaderBytes + bytes.size(), '\0');
    EncodeRecord(reinterpret_cast<u8 *>(r.data()), id, bulk, bytes);
    f += r;
  }
  return f;
}

TEST(Wire, RequestsWithInlineBytesAndBulkFrames) {
  std::string bulk(70000, 'x');
  Msg msg;
  msg.Add(Records(2, {{11, 2, "task-a"}, {12, 0, "task-c"}})).Add(bulk).Add(std::string());
  std::string err;
  auto m = msg.Decode(&err);
  ASSERT_TRUE(m) << err;
  ASSERT_EQ(m->records.size(), 2u);
  EXPECT_EQ(m->records[0].id, 11u);
  EXPECT_EQ(m->records[0].inline_offset, kHeaderBytes + kRecordHeaderBytes);
  EXPECT_EQ(m->records[0].inline_size, 6u);
  EXPECT_EQ(m->records[0].first_bulk_frame, 1u);
  EXPECT_EQ(m->records[0].bulk_frames, 2u);
  EXPECT_EQ(m->records[1].id, 12u);
  EXPECT_EQ(m->records[1].inline_offset, kHeaderBytes + 2 * kRecordHeaderBytes + 6);
  EXPECT_EQ(m->records[1].bulk_frames, 0u);
  EXPECT_EQ(m->records[1].first_bulk_frame, 3u);
}

TEST(Wire, HeartbeatAndGoodbye) {
  std::string err;
  auto hb = Msg().Add(EncodeHeader(H(MessageType::kHeartbeat))).Add(EncodeLoad(1234)).Decode(&err);
  ASSERT_TRUE(hb) << err;
  EXPECT_EQ(hb->load, 1234u);
  EXPECT_TRUE(Msg().Add(EncodeHeader(H(MessageType::kGoodbye))).Decode(&err)) << err;
}

TEST(Wire, RejectsMalformedMessages) {
  auto hdr = EncodeHeader(H(MessageType::kHeartbeat));
  EXPECT_EQ(Error(Msg()), "empty message");
  EXPECT_EQ(Error(Msg().Add(std::string(7, 'a'))), "frame 0 is 7 bytes, a header has 32");
  EXPECT_EQ(Error(Msg().Add(std::string(32, 'a'))), "not a Chimaera message (bad magic)");
  auto other = hdr;
  other[4] = 9;
  EXPECT_EQ(Error(Msg().Add(other)), "protocol version 9, this node speaks 2");
  auto unknown = hdr;
  unknown[6] = 99;
  EXPECT_EQ(Error(Msg().Add(unknown)), "unknown message type 99");
  // A record count the bytes cannot hold: refused before any allocation.
  EXPECT_EQ(Error(Msg().Add(Records(4000, {{1, 0, "x"}}))), "requests message claims 4000 records in 17 bytes");
  EXPECT_EQ(Error(Msg().Add(Records(0, {}))), "requests message with 0 records (1..4096 allowed)");
  EXPECT_EQ(Error(Msg().Add(Records(1, {{1, 3, "x"}})).Add(std::string("b"))),
            "record 0 claims 3 bulk frames, 1 remain");
  EXPECT_EQ(Error(Msg().Add(Records(1, {{1, 65, "x"}}))), "record 0 has 65 bulk frames (at most 64)");
  std::string cut = Records(1, {{1, 0, "abcdef"}});
  cut.resize(cut.size() - 2);
  EXPECT_EQ(Error(Msg().Add(cut)), "record 0 claims 6 inline bytes, 4 remain");
  EXPECT_EQ(Error(Msg().Add(Records(2, {{1, 0, std::string(20, 'z')}}))), "record 1 of 2 is missing");
  EXPECT_EQ(Error(Msg().Add(Records(1, {{1, 0, "x"}}) + "tail")), "requests message has 4 bytes after its last record");
  EXPECT_EQ(Error(Msg().Add(Records(1, {{1, 0, "x"}})).Add(std::string("extra"))),
            "requests message has 1 frames after its last record's bulk");
  // Hello text length must match the frame.
  std::string hello = EncodeHello(HelloBody{1, 2, 3, "abc"});
  hello[16] = 100;
  EXPECT_EQ(Error(Msg().Add(EncodeHeader(H(MessageType::kHello))).Add(hello)),
            "hello node table text claims 100 bytes, 3 present");
  EXPECT_EQ(Error(Msg().Add(EncodeHeader(H(MessageType::kHeartbeat))).Add(std::string(3, 'l'))),
            "heartbeat body is 3 bytes, not 8");
  EXPECT_EQ(Error(Msg().Add(EncodeHeader(H(MessageType::kGoodbye))).Add(std::string("x"))),
            "goodbye message has 2 frames, expected 1");
}
