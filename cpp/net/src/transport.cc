/**
 * @file transport.cc
 * The network thread of chi::net::Transport (transport.h): its sockets,
 * peers, pending requests and timers. Everything in Impl is touched by the
 * network thread only; other threads reach it through Post (inbox + eventfd)
 * and read the Peers() snapshot.
 */
#include "chimaera/net/transport.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "chimaera/net/wire.h"

namespace chi::net {
namespace {

u64 NowNs() noexcept {
  return static_cast<u64>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count());
}
u64 ToNs(std::chrono::milliseconds ms) noexcept { return static_cast<u64>(ms.count()) * 1000000ull; }

u64 RandomIncarnation() {
  std::random_device rd;
  u64 v = (static_cast<u64>(rd()) << 32) ^ rd() ^ NowNs();
  return v == 0 ? 1 : v;
}

/** Coalescing bounds of one outgoing message. */
constexpr std::size_t kMaxRecordsPerBatch = 1024;
constexpr std::size_t kMaxBytesPerBatch = std::size_t{8} << 20;
/** Frames one received message may have (more: drained and dropped). */
constexpr std::size_t kMaxFramesPerMessage = 65536;
/** Messages received per socket per loop turn (fairness between sockets). */
constexpr int kMaxReceivesPerTurn = 256;
/** A reply ZeroMQ did not take (the peer's pipe is full) is retried after this. */
constexpr int kReplyRetryMs = 1;
constexpr int kGoodbyeLingerMs = 200;

zmq::message_t Msg(const void *p, std::size_t n) { return zmq::message_t(p, n); }
template <std::size_t N>
zmq::message_t Msg(const std::array<u8, N> &a) {
  return zmq::message_t(a.data(), a.size());
}

}  // namespace

const char *PeerStateName(PeerState s) noexcept {
  switch (s) {
    case PeerState::kSelf: return "self";
    case PeerState::kConnecting: return "connecting";
    case PeerState::kAlive: return "alive";
    case PeerState::kDead: return "dead";
    case PeerState::kRefused: return "refused";
  }
  return "unknown";
}

struct Transport::Impl {
  struct Peer {
    u32 id = 0;
    NodeAddress address;
    std::unique_ptr<zmq::socket_t> dealer;  // null for this node
    PeerState state = PeerState::kConnecting;
    u64 incarnation = 0;  // theirs, from their hello / hello-ack (0: never heard)
    u64 last_heard_ns = 0;
    u64 load = 0;
    std::string reason;
    std::deque<Outgoing> backlog;  // requests not yet taken by ZeroMQ (oldest first)
    std::string Name() const { return "node " + std::to_string(id) + " (" + address.ToString() + ")"; }
  };
  struct Pending {
    u32 node;
    u64 incarnation;  // the peer's, when sent
    u64 deadline_ns;
    void *cookie;
  };

  Impl(Transport &t) : owner(t), ctx(1), router(ctx, zmq::socket_type::router) {}

  Transport &owner;
  zmq::context_t ctx;
  zmq::socket_t router;
  std::vector<Peer> peers;  // index = node id
  std::unordered_map<u64, Pending> pending;
  std::deque<std::pair<u64, u64>> deadlines;  // (deadline_ns, request id), in send order
  std::deque<Outgoing> reply_backlog;
  u64 next_round_ns = 0;
  bool status_dirty = true;
  // Rate-limited "dropped" log: at most one line per second.
  u64 last_drop_log_ns = 0;
  u64 drops_suppressed = 0;

  const TransportOptions &opt() const { return owner.options_; }
  spdlog::logger &log() const { return *owner.options_.log; }
  TransportHandler &handler() const { return *owner.handler_; }

  void Drop(const std::string &what) {
    const u64 now = NowNs();
    if (now - last_drop_log_ns < 1000000000ull && last_drop_log_ns != 0) {
      ++drops_suppressed;
      return;
    }
    if (drops_suppressed)
      log().warn("network: dropped {} ({} more dropped messages not logged in the last second)", what,
                 drops_suppressed);
    else
      log().warn("network: dropped {}", what);
    last_drop_log_ns = now;
    drops_suppressed = 0;
  }

  MessageHeader Header(MessageType type, u32 records, u64 target_incarnation) const {
    MessageHeader h;
    h.type = type;
    h.sender_node = opt().self;
    h.record_count = records;
    h.sender_incarnation = opt().incarnation;
    h.target_incarnation = target_incarnation;
    return h;
  }
  HelloBody Hello() const {
    return HelloBody{opt().abi_version, static_cast<u32>(opt().table.Size()), opt().table.Identity(),
                     opt().table.Describe()};
  }

  // ---- sending --------------------------------------------------------------
  /** Send a whole message without blocking; false (nothing sent) when ZeroMQ
   * has no room or no connection. Frames are consumed only on success. */
  static bool TrySend(zmq::socket_t &s, std::vector<zmq::message_t> &frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      zmq::send_flags f = zmq::send_flags::dontwait;
      if (i + 1 < frames.size()) f = f | zmq::send_flags::sndmore;
      // ZeroMQ checks the high-water mark on the first frame only: once it
      // took the first, it takes the rest of the message.
      if (!s.send(frames[i], f)) {
        if (i == 0) return false;
        (void)s.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    }
    return true;
  }

  void SendControl(Peer &p, MessageType type, std::vector<zmq::message_t> body) {
    std::vector<zmq::message_t> frames;
    frames.push_back(Msg(EncodeHeader(Header(type, 0, p.incarnation))));
    for (auto &b : body) frames.push_back(std::move(b));
    try {
      (void)TrySend(*p.dealer, frames);  // no room / no connection: the next round retries
    } catch (const zmq::error_t &e) {
      log().warn("network: cannot send {} to {}: {}", MessageTypeName(type), p.Name(), e.what());
    }
  }
  void SendHello(Peer &p) {
    std::vector<zmq::message_t> body;
    const std::string hello = EncodeHello(Hello());
    body.push_back(Msg(hello.data(), hello.size()));
    SendControl(p, MessageType::kHello, std::move(body));
  }

  /** Give the payload frames of the first `n` entries of `queue` back after
   * ZeroMQ refused the message `frames` built from them (it consumed none):
   * header frames are skipped by counting each entry's payload. */
  static void Restore(std::vector<zmq::message_t> &frames, std::deque<Outgoing> &queue, std::size_t n) {
    std::size_t f = frames.size();
    for (std::size_t i = n; i-- > 0;) {
      Frames &payload = queue[i].payload;
      f -= payload.size();
      for (std::size_t k = 0; k < payload.size(); ++k) payload[k] = std::move(frames[f + k]);
      --f;  // the record header
    }
  }

  /** Hand the peer's backlog to ZeroMQ, coalesced, while it takes it. */
  void FlushPeer(Peer &p) {
    while (p.state == PeerState::kAlive && !p.backlog.empty()) {
      std::size_t n = 0, bytes = 0, nframes = 1;
      while (n < p.backlog.size() && n < kMaxRecordsPerBatch && (n == 0 || bytes < kMaxBytesPerBatch)) {
        for (const auto &f : p.backlog[n].payload) bytes += f.size();
        nframes += 1 + p.backlog[n].payload.size();
        ++n;
      }
      std::vector<zmq::message_t> frames;
      frames.reserve(nframes);
      frames.push_back(Msg(EncodeHeader(Header(MessageType::kRequests, static_cast<u32>(n), p.incarnation))));
      for (std::size_t i = 0; i < n; ++i) {
        Outgoing &o = p.backlog[i];
        frames.push_back(Msg(EncodeRecordHeader(o.id, static_cast<u32>(o.payload.size()))));
        for (auto &f : o.payload) frames.push_back(std::move(f));  // bulk frames are not copied
      }
      bool sent = false;
      try {
        sent = TrySend(*p.dealer, frames);
      } catch (const zmq::error_t &e) {
        log().warn("network: cannot send requests to {}: {}", p.Name(), e.what());
      }
      if (!sent) {  // back-pressure: kept, retried when the socket is writable
        Restore(frames, p.backlog, n);
        return;
      }
      for (std::size_t i = 0; i < n; ++i) {
        Outgoing &o = p.backlog.front();
        pending.emplace(o.id, Pending{p.id, p.incarnation, o.deadline_ns, o.cookie});
        deadlines.emplace_back(o.deadline_ns, o.id);
        p.backlog.pop_front();
      }
      status_dirty = true;
    }
  }

  void FlushReplies() {
    while (!reply_backlog.empty()) {
      // Coalesce consecutive replies to the same requester.
      const RequestOrigin &to = reply_backlog.front().origin;
      std::size_t n = 0, bytes = 0;
      while (n < reply_backlog.size() && n < kMaxRecordsPerBatch && (n == 0 || bytes < kMaxBytesPerBatch) &&
             reply_backlog[n].origin.routing_id == to.routing_id &&
             reply_backlog[n].origin.incarnation == to.incarnation) {
        for (const auto &f : reply_backlog[n].payload) bytes += f.size();
        ++n;
      }
      std::vector<zmq::message_t> frames;
      frames.push_back(Msg(to.routing_id.data(), to.routing_id.size()));
      frames.push_back(Msg(EncodeHeader(Header(MessageType::kReplies, static_cast<u32>(n), to.incarnation))));
      for (std::size_t i = 0; i < n; ++i) {
        Outgoing &o = reply_backlog[i];
        frames.push_back(Msg(EncodeRecordHeader(o.origin.request_id, static_cast<u32>(o.payload.size()))));
        for (auto &f : o.payload) frames.push_back(std::move(f));
      }
      bool sent = false;
      try {
        sent = TrySend(router, frames);
      } catch (const zmq::error_t &e) {
        // EHOSTUNREACH (ROUTER_MANDATORY): the requester disconnected.
        Drop(std::to_string(n) + " replies to node " + std::to_string(to.node) + ": " + e.what());
        sent = true;
      }
      if (!sent) {  // its pipe is full: kept, retried shortly
        Restore(frames, reply_backlog, n);
        return;
      }
      reply_backlog.erase(reply_backlog.begin(), reply_backlog.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }

  // ---- failing requests ---------------------------------------------------
  void Fail(void *cookie, RequestFailure why, const std::string &msg) { handler().OnRequestFailed(cookie, why, msg); }

  void FailBacklog(Peer &p, RequestFailure why, const std::string &msg) {
    while (!p.backlog.empty()) {
      void *cookie = p.backlog.front().cookie;
      p.backlog.pop_front();
      Fail(cookie, why, msg);
    }
  }
  void FailPendingOf(u32 node, RequestFailure why, const std::string &msg) {
    std::vector<void *> cookies;
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->second.node == node) {
        cookies.push_back(it->second.cookie);
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    for (void *c : cookies) Fail(c, why, msg);
  }

  void MarkDead(Peer &p, const std::string &why) {
    p.state = PeerState::kDead;
    p.reason = why;
    status_dirty = true;
    const std::string msg = p.Name() + " is unreachable: " + why;
    log().warn("network: {}", msg);
    FailBacklog(p, RequestFailure::kUnreachable, msg);
    FailPendingOf(p.id, RequestFailure::kUnreachable, msg);
  }

  /** A hello or hello-ack of a new incarnation of a known peer. */
  void NoteIncarnation(Peer &p, u64 incarnation) {
    if (p.incarnation != 0 && p.incarnation != incarnation) {
      log().warn("network: {} restarted (incarnation {:x} -> {:x})", p.Name(), p.incarnation, incarnation);
      FailPendingOf(p.id, RequestFailure::kUnreachable,
                    p.Name() + " restarted (new incarnation) before it answered; the request was lost");
      if (p.state == PeerState::kAlive) p.state = PeerState::kConnecting;  // until our hello is answered
    }
    p.incarnation = incarnation;
    status_dirty = true;
  }

  // ---- receiving ------------------------------------------------------------
  /** One whole message (false: none waiting). `oversized`: it had more than
   * kMaxFramesPerMessage frames; they were drained and not kept. */
  static bool Receive(zmq::socket_t &s, std::vector<zmq::message_t> &frames, bool &oversized) {
    frames.clear();
    oversized = false;
    zmq::message_t m;
    if (!s.recv(m, zmq::recv_flags::dontwait)) return false;
    bool more = m.more();
    frames.push_back(std::move(m));
    while (more) {
      zmq::message_t part;
      (void)s.recv(part, zmq::recv_flags::none);  // the rest of a message arrives with its first frame
      more = part.more();
      if (frames.size() < kMaxFramesPerMessage) frames.push_back(std::move(part));
      else oversized = true;
    }
    return true;
  }

  std::optional<DecodedMessage> Decode(const std::vector<zmq::message_t> &frames, std::size_t first,
                                       const std::string &from) {
    std::vector<FrameView> views;
    views.reserve(frames.size() - first);
    for (std::size_t i = first; i < frames.size(); ++i)
      views.emplace_back(static_cast<const u8 *>(frames[i].data()), frames[i].size());
    std::string error;
    auto m = DecodeMessage(views, &error);
    if (!m) Drop("a malformed message from " + from + ": " + error);
    return m;
  }

  Peer *KnownSender(const DecodedMessage &m, const std::string &from) {
    const u32 n = m.header.sender_node;
    if (n >= peers.size() || n == opt().self) {
      Drop(std::string("a ") + MessageTypeName(m.header.type) + " message from " + from + " claiming to be node " +
           std::to_string(n) + " (this node is " + std::to_string(opt().self) + " of " + std::to_string(peers.size()) +
           ")");
      return nullptr;
    }
    return &peers[n];
  }

  /** Empty when `hello` may join this cluster, else why not (both sides named). */
  std::string CheckHello(const Peer &p, const HelloBody &hello) const {
    const std::string me = "node " + std::to_string(opt().self) + " (" + opt().table.At(opt().self).ToString() + ")";
    if (hello.abi_version != opt().abi_version)
      return p.Name() + " has ABI version " + std::to_string(hello.abi_version) + ", " + me + " has " +
             std::to_string(opt().abi_version) + ": run one Chimaera build on every node";
    if (hello.cluster_identity != opt().table.Identity() || hello.num_nodes != opt().table.Size())
      return "node tables differ: " + p.Name() + " has " + hello.table_text + " (identity " +
             fmt::format("{:x}", hello.cluster_identity) + "), " + me + " has " + opt().table.Describe() +
             " (identity " + fmt::format("{:x}", opt().table.Identity()) + ")";
    return {};
  }

  void OnRouterMessage(std::vector<zmq::message_t> &frames) {
    if (frames.size() < 2) return Drop("a message without frames on the listening socket");
    auto m = Decode(frames, 1, "a peer");
    if (!m) return;
    Peer *pp = KnownSender(*m, "a peer");
    if (pp == nullptr) return;
    Peer &p = *pp;
    const std::string routing_id(static_cast<const char *>(frames[0].data()), frames[0].size());
    const u64 now = NowNs();
    switch (m->header.type) {
      case MessageType::kHello: {
        std::vector<zmq::message_t> reply;
        reply.push_back(Msg(routing_id.data(), routing_id.size()));
        std::string why = CheckHello(p, m->hello);
        if (!why.empty()) {
          log().error("network: refused a hello: {}", why);
          reply.push_back(Msg(EncodeHeader(Header(MessageType::kRefuse, 0, m->header.sender_incarnation))));
          why.resize(std::min(why.size(), kMaxTextBytes));
          reply.push_back(Msg(why.data(), why.size()));
        } else {
          NoteIncarnation(p, m->header.sender_incarnation);
          p.last_heard_ns = now;
          reply.push_back(Msg(EncodeHeader(Header(MessageType::kHelloAck, 0, m->header.sender_incarnation))));
          const std::string hello = EncodeHello(Hello());
          reply.push_back(Msg(hello.data(), hello.size()));
          // A peer we gave up on (or never reached) is up: ask it ourselves.
          if (p.state != PeerState::kAlive) {
            if (p.state == PeerState::kRefused) p.state = PeerState::kConnecting;
            SendHello(p);
          }
        }
        try {
          (void)TrySend(router, reply);
        } catch (const zmq::error_t &e) {
          Drop("the answer to a hello from " + p.Name() + ": " + e.what());
        }
        return;
      }
      case MessageType::kHeartbeat:
        if (m->header.sender_incarnation != p.incarnation) return;  // a run we have not said hello to yet
        p.last_heard_ns = now;
        p.load = m->load;
        return;
      case MessageType::kGoodbye:
        if (m->header.sender_incarnation != p.incarnation || p.state == PeerState::kDead) return;
        p.last_heard_ns = now;
        MarkDead(p, "it stopped (goodbye)");
        return;
      case MessageType::kRequests: {
        if (m->header.target_incarnation != opt().incarnation || m->header.sender_incarnation != p.incarnation)
          return Drop(std::to_string(m->records.size()) + " requests from " + p.Name() +
                      " for another incarnation (a restart in between)");
        p.last_heard_ns = now;
        for (const Record &r : m->records) {
          RequestOrigin origin{p.id, p.incarnation, r.id, routing_id};
          Frames payload;
          payload.reserve(r.frame_count);
          for (u32 i = 0; i < r.frame_count; ++i) payload.push_back(std::move(frames[1 + r.first_frame + i]));
          handler().OnRequest(origin, std::move(payload));
        }
        return;
      }
      default:
        return Drop(std::string("an unexpected ") + MessageTypeName(m->header.type) + " message from " + p.Name());
    }
  }

  void OnDealerMessage(Peer &p, std::vector<zmq::message_t> &frames) {
    auto m = Decode(frames, 0, p.Name());
    if (!m) return;
    if (m->header.sender_node != p.id)
      return Drop("a message from node " + std::to_string(m->header.sender_node) + " on the connection to " + p.Name());
    if (m->header.target_incarnation != opt().incarnation)
      return Drop(std::string("a ") + MessageTypeName(m->header.type) + " from " + p.Name() +
                  " meant for an earlier run of this node");
    const u64 now = NowNs();
    switch (m->header.type) {
      case MessageType::kHelloAck: {
        if (std::string why = CheckHello(p, m->hello); !why.empty()) {
          p.state = PeerState::kRefused;
          p.reason = why;
          log().error("network: {}", why);
          return;
        }
        NoteIncarnation(p, m->header.sender_incarnation);
        const bool was_dead = p.state == PeerState::kDead;
        if (p.state != PeerState::kAlive)
          log().info("network: {} is {} (incarnation {:x})", p.Name(), was_dead ? "back" : "up", p.incarnation);
        p.state = PeerState::kAlive;
        p.reason.clear();
        p.last_heard_ns = now;
        status_dirty = true;
        FlushPeer(p);
        return;
      }
      case MessageType::kRefuse: {
        p.state = PeerState::kRefused;
        p.reason = m->text;
        status_dirty = true;
        log().error("network: {} refused this node: {}", p.Name(), m->text);
        const std::string msg = p.Name() + " refused this node: " + m->text;
        FailBacklog(p, RequestFailure::kUnreachable, msg);
        FailPendingOf(p.id, RequestFailure::kUnreachable, msg);
        return;
      }
      case MessageType::kReplies: {
        if (m->header.sender_incarnation != p.incarnation)
          return Drop(std::to_string(m->records.size()) + " replies from an earlier run of " + p.Name());
        p.last_heard_ns = now;
        for (const Record &r : m->records) {
          auto it = pending.find(r.id);
          if (it == pending.end() || it->second.node != p.id) {
            Drop("a reply from " + p.Name() + " for request " + std::to_string(r.id) +
                 ", which is not pending (answered, failed or timed out already)");
            continue;
          }
          void *cookie = it->second.cookie;
          pending.erase(it);
          Frames payload;
          payload.reserve(r.frame_count);
          for (u32 i = 0; i < r.frame_count; ++i) payload.push_back(std::move(frames[r.first_frame + i]));
          handler().OnReply(cookie, std::move(payload));
        }
        status_dirty = true;
        return;
      }
      default:
        return Drop(std::string("an unexpected ") + MessageTypeName(m->header.type) + " message from " + p.Name());
    }
  }

  // ---- timers -----------------------------------------------------------------
  void Round(u64 now) {
    const u64 dead_after = ToNs(opt().peer_dead_after);
    const std::array<u8, 8> load = EncodeLoad(owner.local_load_.load(std::memory_order_relaxed));
    for (Peer &p : peers) {
      if (p.state == PeerState::kSelf || p.state == PeerState::kRefused) continue;
      if (p.state == PeerState::kAlive && now - p.last_heard_ns > dead_after)
        MarkDead(p, "nothing heard for " + std::to_string((now - p.last_heard_ns) / 1000000) +
                        " ms (peer_dead_after " + std::to_string(opt().peer_dead_after.count()) + " ms)");
      if (p.state != PeerState::kAlive) SendHello(p);
      if (p.state != PeerState::kDead) {
        std::vector<zmq::message_t> body;
        body.push_back(Msg(load));
        SendControl(p, MessageType::kHeartbeat, std::move(body));
      }
    }
  }

  void ExpireDeadlines(u64 now) {
    while (!deadlines.empty() && deadlines.front().first <= now) {
      const u64 id = deadlines.front().second;
      deadlines.pop_front();
      auto it = pending.find(id);
      if (it == pending.end()) continue;  // answered or failed already
      const Pending p = it->second;
      pending.erase(it);
      Fail(p.cookie, RequestFailure::kTimedOut,
           peers[p.node].Name() + " did not answer within rpc_timeout (" + std::to_string(opt().rpc_timeout.count()) +
               " ms)");
      status_dirty = true;
    }
    for (Peer &p : peers) {
      while (!p.backlog.empty() && p.backlog.front().deadline_ns <= now) {
        void *cookie = p.backlog.front().cookie;
        p.backlog.pop_front();
        if (p.state == PeerState::kAlive)
          Fail(cookie, RequestFailure::kTimedOut,
               p.Name() + " did not take the request within rpc_timeout (" +
                   std::to_string(opt().rpc_timeout.count()) + " ms): it is overloaded");
        else
          Fail(cookie, RequestFailure::kUnreachable,
               p.Name() + " is unreachable: it did not answer a hello within rpc_timeout (" +
                   std::to_string(opt().rpc_timeout.count()) + " ms); is it running?");
      }
    }
  }

  u64 NextWakeNs(u64 now) const {
    u64 next = next_round_ns;
    if (!deadlines.empty()) next = std::min(next, deadlines.front().first);
    for (const Peer &p : peers)
      if (!p.backlog.empty()) next = std::min(next, p.backlog.front().deadline_ns);
    if (!reply_backlog.empty()) next = std::min<u64>(next, now + kReplyRetryMs * 1000000ull);
    return next;
  }

  void Accept(Outgoing &&o) {
    if (o.is_reply) {
      reply_backlog.push_back(std::move(o));
      return;
    }
    if (o.node >= peers.size() || o.node == opt().self) {
      Fail(o.cookie, RequestFailure::kBadRequest,
           "no peer node " + std::to_string(o.node) + " (this is node " + std::to_string(opt().self) + " of " +
               std::to_string(peers.size()) + ")");
      return;
    }
    Peer &p = peers[o.node];
    if (p.state == PeerState::kDead || p.state == PeerState::kRefused) {
      Fail(o.cookie, RequestFailure::kUnreachable, p.Name() + " is unreachable: " + p.reason);
      return;
    }
    p.backlog.push_back(std::move(o));
  }

  void PublishStatus() {
    if (!status_dirty) return;
    status_dirty = false;
    std::vector<u64> in_flight(peers.size(), 0);
    for (const auto &[id, p] : pending) ++in_flight[p.node];
    std::lock_guard<std::mutex> lock(owner.status_mu_);
    owner.status_.resize(peers.size());
    owner.status_heard_ns_.resize(peers.size());
    for (std::size_t i = 0; i < peers.size(); ++i) {
      const Peer &p = peers[i];
      owner.status_[i] = PeerStatus{p.id, p.address, p.state, p.incarnation, p.load, -1,
                                    in_flight[i] + p.backlog.size(), p.reason};
      owner.status_heard_ns_[i] = p.last_heard_ns;
    }
  }
};

Transport::Transport(TransportOptions options, TransportHandler *handler)
    : options_(std::move(options)), handler_(handler) {
  if (options_.incarnation == 0) options_.incarnation = RandomIncarnation();
  if (!options_.log) options_.log = spdlog::default_logger();
  if (options_.self >= options_.table.Size())
    throw TransportError("node id " + std::to_string(options_.self) + " is not in the node table (" +
                         options_.table.Describe() + ")");
}

Transport::~Transport() { Stop(); }

void Transport::Start() {
  if (started_.exchange(true)) return;
  impl_ = std::make_unique<Impl>(*this);
  Impl &s = *impl_;
  const NodeAddress &me = options_.table.At(options_.self);
  // An IPv4 literal is bound as is (several nodes on one machine each have
  // their own loopback address); a host name listens on every interface.
  bind_endpoint_ = "tcp://" + (IsIpv4Literal(me.host) ? me.host : std::string("*")) + ":" + std::to_string(me.port);
  auto common = [&](zmq::socket_t &sock) {
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::sndhwm, options_.high_water_mark);
    sock.set(zmq::sockopt::rcvhwm, options_.high_water_mark);
    sock.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_frame_bytes));
  };
  try {
    common(s.router);
    s.router.set(zmq::sockopt::router_mandatory, 1);
    s.router.bind(bind_endpoint_);
  } catch (const zmq::error_t &e) {
    impl_.reset();
    started_ = false;
    throw TransportError("cannot listen on " + bind_endpoint_ + " (node " + std::to_string(options_.self) +
                         " of the node table): " + e.what() +
                         (e.num() == EADDRINUSE ? " (another node or program uses this address and port)" : ""));
  }
  s.peers.resize(options_.table.Size());
  for (u32 i = 0; i < s.peers.size(); ++i) {
    Impl::Peer &p = s.peers[i];
    p.id = i;
    p.address = options_.table.At(i);
    if (i == options_.self) {
      p.state = PeerState::kSelf;
      p.incarnation = options_.incarnation;
      continue;
    }
    p.dealer = std::make_unique<zmq::socket_t>(s.ctx, zmq::socket_type::dealer);
    common(*p.dealer);
    // Queue only on a live connection: what ZeroMQ cannot send stays in our
    // backlog, with its deadline, instead of in a pipe to a dead peer.
    p.dealer->set(zmq::sockopt::immediate, 1);
    p.dealer->connect(p.address.Endpoint());
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw TransportError(std::string("eventfd: ") + std::strerror(errno));
  s.next_round_ns = 0;  // hello at once
  s.PublishStatus();
  options_.log->info("network: node {} of {} listening on {} (incarnation {:x})", options_.self,
                     options_.table.Describe(), bind_endpoint_, options_.incarnation);
  thread_ = std::thread([this] { Loop(); });
}

void Transport::Post(Outgoing &&out) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    was_empty = inbox_.empty();
    inbox_.push_back(std::move(out));
  }
  // One wake-up per batch: while the network thread has not taken the inbox,
  // later posts only append.
  if (was_empty) {
    const u64 one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

void Transport::SendRequest(u32 node, void *cookie, Frames payload) {
  Outgoing o;
  o.node = node;
  o.id = next_request_id_.fetch_add(1, std::memory_order_relaxed);
  o.cookie = cookie;
  o.deadline_ns = NowNs() + ToNs(options_.rpc_timeout);
  o.payload = std::move(payload);
  Post(std::move(o));
}

void Transport::SendReply(const RequestOrigin &to, Frames payload) {
  Outgoing o;
  o.is_reply = true;
  o.node = to.node;
  o.origin = to;
  o.payload = std::move(payload);
  Post(std::move(o));
}

std::vector<PeerStatus> Transport::Peers() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  std::vector<PeerStatus> out = status_;
  const u64 now = NowNs();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (status_heard_ns_[i] != 0) out[i].ms_since_heard = static_cast<i64>((now - status_heard_ns_[i]) / 1000000);
  return out;
}

void Transport::Loop() {
  Impl &s = *impl_;
  std::vector<zmq::pollitem_t> items;
  std::vector<zmq::message_t> frames;
  std::vector<Outgoing> batch;
  const u64 round_ns = ToNs(options_.heartbeat_interval);
  while (true) {
    u64 now = NowNs();
    if (now >= s.next_round_ns) {
      s.Round(now);
      s.next_round_ns = now + round_ns;
      s.status_dirty = true;
    }
    s.ExpireDeadlines(now);
    for (auto &p : s.peers) s.FlushPeer(p);
    s.FlushReplies();
    s.PublishStatus();

    // Sockets: 0 = the ROUTER, 1 = the wake-up eventfd, 2.. = the DEALERs.
    items.clear();
    items.push_back({s.router.handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
    for (auto &p : s.peers) {
      if (!p.dealer) continue;
      short ev = ZMQ_POLLIN;
      if (p.state == PeerState::kAlive && !p.backlog.empty()) ev |= ZMQ_POLLOUT;  // back-pressure: wait for room
      items.push_back({p.dealer->handle(), 0, ev, 0});
    }
    now = NowNs();
    const u64 wake = s.NextWakeNs(now);
    const auto timeout = std::chrono::milliseconds(wake > now ? static_cast<i64>((wake - now) / 1000000) + 1 : 0);
    try {
      zmq::poll(items.data(), items.size(), timeout);
    } catch (const zmq::error_t &e) {
      if (e.num() != EINTR) options_.log->error("network: poll failed: {}", e.what());
    }
    if (items[1].revents & ZMQ_POLLIN) {
      u64 count = 0;
      (void)!read(wake_fd_, &count, sizeof(count));  // before taking the inbox (see Post)
    }
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      batch.swap(inbox_);
    }
    for (auto &o : batch) s.Accept(std::move(o));
    batch.clear();
    if (stop_.load(std::memory_order_acquire)) break;
    bool oversized = false;
    for (int i = 0; i < kMaxReceivesPerTurn && Impl::Receive(s.router, frames, oversized); ++i) {
      if (oversized) s.Drop("a message of more than " + std::to_string(kMaxFramesPerMessage) + " frames");
      else s.OnRouterMessage(frames);
    }
    for (auto &p : s.peers) {
      if (!p.dealer) continue;
      for (int i = 0; i < kMaxReceivesPerTurn && Impl::Receive(*p.dealer, frames, oversized); ++i) {
        if (oversized) s.Drop("a message of more than " + std::to_string(kMaxFramesPerMessage) + " frames");
        else s.OnDealerMessage(p, frames);
      }
    }
  }

  // Stop: answer what we can, say goodbye, fail the rest, close.
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    batch.swap(inbox_);
  }
  const std::string stopping = "node " + std::to_string(options_.self) + " is stopping";
  for (auto &o : batch) {
    if (o.is_reply) s.reply_backlog.push_back(std::move(o));
    else s.Fail(o.cookie, RequestFailure::kStopping, stopping);
  }
  s.FlushReplies();
  for (auto &p : s.peers) {
    if (!p.dealer) continue;
    if (p.state == PeerState::kAlive) s.SendControl(p, MessageType::kGoodbye, {});
    s.FailBacklog(p, RequestFailure::kStopping, stopping);
  }
  std::vector<void *> cookies;
  for (auto &[id, p] : s.pending) cookies.push_back(p.cookie);
  s.pending.clear();
  for (void *c : cookies) s.Fail(c, RequestFailure::kStopping, stopping);
  // A bounded linger lets the goodbyes and last replies leave.
  s.router.set(zmq::sockopt::linger, kGoodbyeLingerMs);
  s.router.close();
  for (auto &p : s.peers)
    if (p.dealer) {
      p.dealer->set(zmq::sockopt::linger, kGoodbyeLingerMs);
      p.dealer->close();
    }
  s.ctx.close();
}

void Transport::Stop() {
  if (!started_.load() || stop_.exchange(true)) return;
  const u64 one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
  wake_fd_ = -1;
  options_.log->info("network: node {} stopped", options_.self);
}

}  // namespace chi::net
