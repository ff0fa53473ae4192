// The ZeroMQ transport between real sockets: each node is a Transport bound
// to its own loopback address (127.0.0.2, 127.0.0.3, ...), same port. Covers
// request/reply with bulk frames, coalescing under load, nodes starting in
// any order, deadlines, goodbye and restart (new incarnation), refused
// hellos, and malformed bytes from a raw socket.
#include "chimaera/net/transport.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <sstream>
#include <thread>

#include "chimaera/net/wire.h"

using namespace chi::net;
using chi::u32;
using chi::u64;
using namespace std::chrono_literals;

namespace {

chi::u16 TestPort() { return static_cast<chi::u16>(20000 + (getpid() * 7) % 20000); }

NodeTable Table(int n, chi::u16 port) {
  std::vector<NodeAddress> nodes;
  for (int i = 0; i < n; ++i) nodes.push_back({"127.0.0." + std::to_string(2 + i), port});
  return NodeTable(nodes);
}

std::string Str(const zmq::message_t &m) { return std::string(static_cast<const char *>(m.data()), m.size()); }

/** Answers every request with its bytes and then its bulk frames in reverse
 * order, each prefixed by this node's id; records replies (joined with '|')
 * and failures by cookie. */
class EchoNode : public TransportHandler {
 public:
  EchoNode(NodeTable t, u32 self, std::ostringstream *log_text = nullptr, u64 incarnation = 0) {
    TransportOptions o;
    o.table = std::move(t);
    o.self = self;
    o.incarnation = incarnation;
    o.abi_version = 5;
    o.rpc_timeout = 3000ms;
    o.heartbeat_interval = 50ms;
    o.peer_dead_after = 400ms;
    if (log_text) {
      auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*log_text);
      o.log = std::make_shared<spdlog::logger>("node" + std::to_string(self), sink);
    } else {
      o.log = std::make_shared<spdlog::logger>("node" + std::to_string(self));  // no sinks: quiet
    }
    transport = std::make_unique<Transport>(std::move(o), this);
  }
  void OnRequest(const RequestOrigin &origin, ReceivedPayload payload) override {
    ++requests_served;
    if (!answer) return;
    const std::string me = std::to_string(transport->Self()) + ":";
    Payload out;
    out.bytes = me + std::string(payload.bytes);
    for (auto it = payload.bulk.rbegin(); it != payload.bulk.rend(); ++it) out.bulk.emplace_back(me + Str(*it));
    transport->SendReply(origin, std::move(out));
  }
  void OnReply(void *cookie, ReceivedPayload payload) override {
    std::lock_guard<std::mutex> l(mu);
    std::string joined(payload.bytes);
    for (auto &f : payload.bulk) joined += "|" + Str(f);
    replies[reinterpret_cast<uintptr_t>(cookie)].push_back(joined);
    cv.notify_all();
  }
  void OnRequestFailed(void *cookie, RequestFailure why, const std::string &message) override {
    std::lock_guard<std::mutex> l(mu);
    failures[reinterpret_cast<uintptr_t>(cookie)].push_back({why, message});
    cv.notify_all();
  }
  /** frames[0]: the request's bytes; the rest: its bulk frames. */
  void Send(u32 node, uintptr_t cookie, std::vector<std::string> frames) {
    Payload p;
    p.bytes = frames.at(0);
    for (std::size_t i = 1; i < frames.size(); ++i) p.bulk.emplace_back(frames[i]);
    transport->SendRequest(node, reinterpret_cast<void *>(cookie), std::move(p));
  }
  /** Wait until `n` requests have an outcome (reply or failure). */
  bool WaitOutcomes(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, timeout, [&] { return replies.size() + failures.size() >= n; });
  }
  bool WaitPeer(u32 node, PeerState state, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (transport->Peers().at(node).state == state) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  std::unique_ptr<Transport> transport;
  std::atomic<u64> requests_served{0};
  bool answer = true;
  std::mutex mu;
  std::condition_variable cv;
  std::map<uintptr_t, std::vector<std::string>> replies;
  std::map<uintptr_t, std::vector<std::pair<RequestFailure, std::string>>> failures;
};

}  // namespace

TEST(Transport, RequestAndReplyWithBulkFrames) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0), b(t, 1);
  a.transport->Start();
  b.transport->Start();
  const std::string big(16 << 20, 'z');
  a.Send(1, 1, {"task", "", big});
  ASSERT_TRUE(a.WaitOutcomes(1, 10s));
  ASSERT_EQ(a.replies.count(1), 1u) << (a.failures.count(1) ? a.failures[1][0].second : "");
  EXPECT_EQ(a.replies[1][0], "1:task|1:" + big + "|1:");
  auto peers = a.transport->Peers();
  EXPECT_EQ(peers[0].state, PeerState::kSelf);
  EXPECT_EQ(peers[1].state, PeerState::kAlive);
  EXPECT_EQ(peers[1].incarnation, b.transport->Incarnation());
}

TEST(Transport, ManyRequestsFromSeveralThreadsAreAnsweredExactlyOnce) {
  NodeTable t = Table(3, TestPort());
  EchoNode a(t, 0), b(t, 1), c(t, 2);
  for (auto *n : {&a, &b, &c}) n->transport->Start();
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int th = 0; th < 2; ++th)
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPerThread; ++i) {
        const uintptr_t cookie = 1 + th * kPerThread + i;
        a.Send(1 + (i % 2), cookie, {std::to_string(cookie)});
      }
    });
  for (auto &th : threads) th.join();
  ASSERT_TRUE(a.WaitOutcomes(2 * kPerThread, 60s));
  EXPECT_TRUE(a.failures.empty());
  ASSERT_EQ(a.replies.size(), 2u * kPerThread);
  for (auto &[cookie, r] : a.replies) {
    ASSERT_EQ(r.size(), 1u);
    const int i = static_cast<int>((cookie - 1) % kPerThread);
    ASSERT_EQ(r[0], std::to_string(1 + (i % 2)) + ":" + std::to_string(cookie));
  }
  EXPECT_EQ(b.requests_served + c.requests_served, 2u * kPerThread);
  EXPECT_EQ(b.requests_served, static_cast<u64>(kPerThread));
}

TEST(Transport, RequestsWaitForAPeerThatStartsLater) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0), b(t, 1);
  a.transport->Start();
  a.Send(1, 7, {"early"});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(a.replies.size() + a.failures.size(), 0u);
  b.transport->Start();
  ASSERT_TRUE(a.WaitOutcomes(1, 5s));
  ASSERT_EQ(a.replies.count(7), 1u);
  EXPECT_EQ(a.replies[7][0], "1:early");
}

TEST(Transport, APeerThatNeverStartsFailsAtTheDeadlineNamingIt) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0);
  a.transport->Start();
  const auto t0 = std::chrono::steady_clock::now();
  a.Send(1, 3, {"x"});
  ASSERT_TRUE(a.WaitOutcomes(1, 10s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(a.failures.count(3), 1u);
  EXPECT_EQ(a.failures[3][0].first, RequestFailure::kUnreachable);
  EXPECT_NE(a.failures[3][0].second.find("node 1 (127.0.0.3:"), std::string::npos) << a.failures[3][0].second;
  EXPECT_GE(waited, 2900ms);
  EXPECT_LT(waited, 5000ms);
  // Bad destinations fail at once.
  a.Send(0, 4, {"self"});
  a.Send(9, 5, {"none"});
  ASSERT_TRUE(a.WaitOutcomes(3, 2s));
  EXPECT_EQ(a.failures[4][0].first, RequestFailure::kBadRequest);
  EXPECT_EQ(a.failures[5][0].first, RequestFailure::kBadRequest);
}

TEST(Transport, UnansweredRequestToALivePeerTimesOut) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0), b(t, 1);
  b.answer = false;
  a.transport->Start();
  b.transport->Start();
  a.Send(1, 1, {"never answered"});
  ASSERT_TRUE(a.WaitOutcomes(1, 10s));
  ASSERT_EQ(a.failures.count(1), 1u);
  EXPECT_EQ(a.failures[1][0].first, RequestFailure::kTimedOut);
  EXPECT_NE(a.failures[1][0].second.find("did not answer within rpc_timeout (3000 ms)"), std::string::npos);
}

TEST(Transport, StoppedPeerFailsItsRequestsAndANewIncarnationIsUsed) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0);
  auto b = std::make_unique<EchoNode>(t, 1);
  b->answer = false;  // requests stay in flight
  a.transport->Start();
  b->transport->Start();
  a.Send(1, 1, {"in flight"});
  ASSERT_TRUE(a.WaitPeer(1, PeerState::kAlive, 5s));
  while (b->requests_served == 0) std::this_thread::sleep_for(1ms);
  const u64 old_incarnation = b->transport->Incarnation();
  const auto t0 = std::chrono::steady_clock::now();
  b.reset();  // Stop: goodbye
  ASSERT_TRUE(a.WaitOutcomes(1, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);  // goodbye, not the deadline
  ASSERT_EQ(a.failures.count(1), 1u);
  EXPECT_EQ(a.failures[1][0].first, RequestFailure::kUnreachable);
  EXPECT_NE(a.failures[1][0].second.find("node 1 (127.0.0.3:"), std::string::npos);
  EXPECT_NE(a.failures[1][0].second.find("stopped"), std::string::npos) << a.failures[1][0].second;
  // Dead: fails fast.
  a.Send(1, 2, {"while dead"});
  ASSERT_TRUE(a.WaitOutcomes(2, 1s));
  EXPECT_EQ(a.failures.count(2), 1u);
  // A new incarnation comes up: traffic resumes by itself.
  EchoNode b2(t, 1);
  b2.transport->Start();
  ASSERT_TRUE(a.WaitPeer(1, PeerState::kAlive, 5s));
  EXPECT_NE(a.transport->Peers()[1].incarnation, old_incarnation);
  EXPECT_EQ(a.transport->Peers()[1].incarnation, b2.transport->Incarnation());
  a.Send(1, 3, {"after restart"});
  ASSERT_TRUE(a.WaitOutcomes(3, 5s));
  ASSERT_EQ(a.replies.count(3), 1u);
  EXPECT_EQ(a.replies[3][0], "1:after restart");
}

TEST(Transport, SilentPeerIsDeclaredDeadAfterPeerDeadAfter) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0);
  // A "node 1" that says hello, then goes silent: raw sockets speaking the
  // protocol by hand (what a paused or hung process looks like).
  zmq::context_t ctx;
  zmq::socket_t fake_in(ctx, zmq::socket_type::pull), fake_out(ctx, zmq::socket_type::push);
  fake_in.set(zmq::sockopt::linger, 0);
  fake_out.set(zmq::sockopt::linger, 0);
  fake_in.bind("tcp://127.0.0.3:" + std::to_string(t.At(1).port));
  fake_out.connect(t.At(0).Endpoint());
  a.transport->Start();
  // Answer the first hello by hand.
  std::vector<zmq::message_t> in;
  for (;;) {
    zmq::message_t m;
    ASSERT_TRUE(fake_in.recv(m));
    bool more = m.more();
    in.push_back(std::move(m));
    if (!more) break;
  }
  ASSERT_EQ(in.size(), 2u);  // header, hello
  MessageHeader h;
  h.type = MessageType::kHelloAck;
  h.sender_node = 1;
  h.sender_incarnation = 77;
  h.target_incarnation = a.transport->Incarnation();
  auto hdr = EncodeHeader(h);
  std::string hello = EncodeHello(HelloBody{5, 2, t.Identity(), t.Describe()});
  fake_out.send(zmq::buffer(hdr), zmq::send_flags::sndmore);
  fake_out.send(zmq::buffer(hello), zmq::send_flags::none);
  ASSERT_TRUE(a.WaitPeer(1, PeerState::kAlive, 5s));
  a.Send(1, 1, {"lost"});
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(a.WaitOutcomes(1, 5s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(a.failures.count(1), 1u);
  EXPECT_EQ(a.failures[1][0].first, RequestFailure::kUnreachable);
  EXPECT_NE(a.failures[1][0].second.find("nothing heard for"), std::string::npos) << a.failures[1][0].second;
  EXPECT_LT(waited, 400ms + 500ms);
}

TEST(Transport, HelloFromAnotherClusterIsRefusedNamingBothSides) {
  const chi::u16 port = TestPort();
  NodeTable t2 = Table(2, port), t3 = Table(3, port);
  std::ostringstream log_a, log_b;
  EchoNode a(t2, 0, &log_a), b(t3, 1, &log_b);
  a.transport->Start();
  b.transport->Start();
  ASSERT_TRUE(a.WaitPeer(1, PeerState::kRefused, 5s));
  a.Send(1, 1, {"x"});
  ASSERT_TRUE(a.WaitOutcomes(1, 2s));
  ASSERT_EQ(a.failures.count(1), 1u);
  const std::string &msg = a.failures[1][0].second;
  EXPECT_NE(msg.find("node tables differ"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 nodes: 127.0.0.2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 nodes: 127.0.0.2:"), std::string::npos) << msg;
  EXPECT_NE(log_a.str().find("node tables differ"), std::string::npos) << log_a.str();
  EXPECT_NE(log_b.str().find("node tables differ"), std::string::npos) << log_b.str();
}

TEST(Transport, MalformedBytesAreDroppedAndTheNodeKeepsServing) {
  NodeTable t = Table(2, TestPort());
  std::ostringstream log_b;
  EchoNode a(t, 0), b(t, 1, &log_b);
  a.transport->Start();
  b.transport->Start();
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::push);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(t.At(1).Endpoint());
  MessageHeader h;
  h.type = MessageType::kRequests;
  h.sender_node = 0;
  h.record_count = 1000;
  auto hdr = EncodeHeader(h);
  raw.send(zmq::str_buffer("garbage"), zmq::send_flags::none);                       // not a header
  raw.send(zmq::buffer(hdr), zmq::send_flags::sndmore);                              // claims 1000 records
  raw.send(zmq::str_buffer("x"), zmq::send_flags::none);
  h.record_count = 1;
  h.sender_node = 9;
  std::string unknown(reinterpret_cast<const char *>(EncodeHeader(h).data()), kHeaderBytes);
  unknown += std::string(16, '\0');
  raw.send(zmq::buffer(unknown), zmq::send_flags::none);                             // unknown node
  std::this_thread::sleep_for(300ms);
  a.Send(1, 1, {"still fine"});
  ASSERT_TRUE(a.WaitOutcomes(1, 5s));
  ASSERT_EQ(a.replies.count(1), 1u);
  EXPECT_EQ(b.requests_served, 1u);
  EXPECT_NE(log_b.str().find("dropped a malformed message"), std::string::npos) << log_b.str();
}

TEST(Transport, AddressInUseIsAClearStartError) {
  NodeTable t = Table(2, TestPort());
  EchoNode a(t, 0), a2(t, 0);
  a.transport->Start();
  try {
    a2.transport->Start();
    FAIL();
  } catch (const TransportError &e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on tcp://127.0.0.2:"), std::string::npos) << e.what();
  }
}
