/**
 * @file transport.cc
 * chi::net::Transport (transport.h). Who touches what:
 *  - Link (one per peer): its PUSH socket under Link::mu, by any thread;
 *    `state` and `incarnation` written by the network thread (a live peer
 *    leaves kAlive only under pending_mu_), read by every sender.
 *  - pending_ / deadlines_: under pending_mu_, by senders and the network thread.
 *  - Impl: the network thread only (the PULL socket, backlogs, timers).
 */
#include "chimaera/net/transport.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

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

/** Coalescing bounds of one message leaving a backlog. */
constexpr std::size_t kMaxRecordsPerBatch = 1024;
constexpr std::size_t kMaxBytesPerBatch = std::size_t{8} << 20;
/** Frames one received message may have (more: drained and dropped). */
constexpr std::size_t kMaxFramesPerMessage = 65536;
/** Messages received per loop turn before the timers and backlogs get a turn. */
constexpr int kMaxReceivesPerTurn = 1024;
/** A backlog ZeroMQ did not take (no room, no connection) is retried after this. */
constexpr int kBacklogRetryMs = 1;
constexpr int kGoodbyeLingerMs = 200;

zmq::message_t Msg(const void *p, std::size_t n) { return zmq::message_t(p, n); }
template <std::size_t N>
zmq::message_t Msg(const std::array<u8, N> &a) {
  return zmq::message_t(a.data(), a.size());
}

/** Send a whole message without blocking; false (nothing sent, frames
 * intact) when ZeroMQ has no room or no connection. The caller holds the
 * socket's mutex. */
bool TrySend(zmq::socket_t &s, std::vector<zmq::message_t> &frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const bool more = i + 1 < frames.size();
    // ZeroMQ checks the high-water mark on the first frame only: once it
    // took the first, it takes the rest of the message.
    if (!s.send(frames[i], more ? zmq::send_flags::sndmore | zmq::send_flags::dontwait : zmq::send_flags::dontwait)) {
      if (i == 0) return false;
      (void)s.send(frames[i], more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  return true;
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

struct Transport::Link {
  u32 id = 0;
  NodeAddress address;
  std::mutex mu;                         // guards push
  std::unique_ptr<zmq::socket_t> push;   // null for this node
  std::atomic<PeerState> state{PeerState::kConnecting};
  std::atomic<u64> incarnation{0};       // theirs (0: never heard)
  /** Messages for this peer in the network thread's backlogs: while > 0,
   * senders queue behind them instead of overtaking them. */
  std::atomic<u32> backlogged{0};
  std::string Name() const { return "node " + std::to_string(id) + " (" + address.ToString() + ")"; }
};

struct Transport::Impl {
  /** What only the network thread knows of a peer. */
  struct Peer {
    u64 last_heard_ns = 0;
    u64 load = 0;
    std::string reason;              // why dead or refused
    std::deque<Outgoing> requests;   // not yet taken by ZeroMQ (oldest first)
    std::deque<Outgoing> replies;
  };

  Impl(Transport &t) : owner(t), ctx(1), pull(ctx, zmq::socket_type::pull) {}

  Transport &owner;
  zmq::context_t ctx;
  zmq::socket_t pull;
  std::vector<Peer> peers;  // index = node id
  u64 next_round_ns = 0;
  bool status_dirty = true;
  u64 last_drop_log_ns = 0;  // rate-limited "dropped" log: at most one line per second
  u64 drops_suppressed = 0;

  const TransportOptions &opt() const { return owner.options_; }
  spdlog::logger &log() const { return *owner.options_.log; }
  TransportHandler &handler() const { return *owner.handler_; }
  Link &link(u32 node) const { return *owner.links_[node]; }

  void Drop(const std::string &what) {
    const u64 now = NowNs();
    if (last_drop_log_ns != 0 && now - last_drop_log_ns < 1000000000ull) {
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

  /** A one-frame-body control message to `node`'s incarnation `target`
   * (default: the one we know). */
  void SendControl(u32 node, MessageType type, std::vector<zmq::message_t> body, u64 target = 0) {
    std::vector<zmq::message_t> frames;
    frames.push_back(Msg(EncodeHeader(Header(type, 0, target ? target : link(node).incarnation.load()))));
    for (auto &b : body) frames.push_back(std::move(b));
    try {
      (void)owner.TrySendTo(node, frames);  // no room / no connection: the next round retries
    } catch (const zmq::error_t &e) {
      log().warn("network: cannot send {} to {}: {}", MessageTypeName(type), link(node).Name(), e.what());
    }
  }
  void SendHello(u32 node, MessageType type = MessageType::kHello) {
    std::vector<zmq::message_t> body;
    const std::string hello = EncodeHello(Hello());
    body.push_back(Msg(hello.data(), hello.size()));
    SendControl(node, type, std::move(body));
  }

  /** Send the front of `queue` (requests or replies to `node`) as one
   * message while ZeroMQ takes it. Returns how many are left. */
  std::size_t FlushQueue(u32 node, std::deque<Outgoing> &queue, bool replies) {
    std::size_t sent_total = 0;
    std::vector<Outgoing *> batch;
    while (!queue.empty()) {
      // Coalesce: replies only with replies to the same incarnation.
      const u64 target = replies ? queue.front().origin.incarnation : link(node).incarnation.load();
      std::size_t n = 0, bytes = 0;
      batch.clear();
      while (n < queue.size() && n < kMaxRecordsPerBatch && (n == 0 || bytes < kMaxBytesPerBatch) &&
             (!replies || queue[n].origin.incarnation == target)) {
        bytes += queue[n].payload.bytes.size();
        for (const auto &f : queue[n].payload.bulk) bytes += f.size();
        batch.push_back(&queue[n]);
        ++n;
      }
      std::vector<zmq::message_t> frames =
          owner.BuildMessage(replies ? MessageType::kReplies : MessageType::kRequests, target, batch.data(), n);
      bool sent = false;
      try {
        sent = owner.TrySendTo(node, frames);
      } catch (const zmq::error_t &e) {
        log().warn("network: cannot send to {}: {}", link(node).Name(), e.what());
      }
      if (!sent) {  // back-pressure or no connection: kept, retried shortly
        RestoreBulk(frames, batch.data(), n);
        break;
      }
      if (!replies) {
        // Only the network thread answers replies, so registering after the
        // send cannot miss one.
        std::lock_guard<std::mutex> lock(owner.pending_mu_);
        for (std::size_t i = 0; i < n; ++i) {
          owner.pending_.emplace(queue[i].id, Pending{node, queue[i].deadline_ns, queue[i].cookie});
          owner.deadlines_.emplace_back(queue[i].deadline_ns, queue[i].id);
        }
      }
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
      sent_total += n;
    }
    if (sent_total) status_dirty = true;
    return queue.size();
  }

  void FlushBacklogs() {
    for (u32 node = 0; node < peers.size(); ++node) {
      Link &l = link(node);
      if (!l.push) continue;
      Peer &p = peers[node];
      if (l.state.load() == PeerState::kAlive) FlushQueue(node, p.requests, false);
      FlushQueue(node, p.replies, true);
      l.backlogged.store(static_cast<u32>(p.requests.size() + p.replies.size()), std::memory_order_release);
    }
  }

  // ---- failing requests ---------------------------------------------------
  void Fail(void *cookie, RequestFailure why, const std::string &msg) { handler().OnRequestFailed(cookie, why, msg); }

  /** Move `node` to `state` (leaving kAlive) and fail its requests: in
   * flight, and waiting in its backlog. */
  void Leave(u32 node, PeerState state, RequestFailure why, const std::string &msg) {
    std::vector<void *> cookies;
    {
      std::lock_guard<std::mutex> lock(owner.pending_mu_);
      link(node).state.store(state);
      for (auto it = owner.pending_.begin(); it != owner.pending_.end();) {
        if (it->second.node == node) {
          cookies.push_back(it->second.cookie);
          it = owner.pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    Peer &p = peers[node];
    if (state != PeerState::kConnecting) {
      for (auto &o : p.requests) cookies.push_back(o.cookie);
      p.requests.clear();
      p.replies.clear();  // its requester is gone
    }
    link(node).backlogged.store(static_cast<u32>(p.requests.size() + p.replies.size()));
    status_dirty = true;
    for (void *c : cookies) Fail(c, why, msg);
  }

  void MarkDead(u32 node, const std::string &why) {
    peers[node].reason = why;
    const std::string msg = link(node).Name() + " is unreachable: " + why;
    log().warn("network: {}", msg);
    Leave(node, PeerState::kDead, RequestFailure::kUnreachable, msg);
  }

  /** A hello or hello-ack from `node`, of incarnation `incarnation`. */
  void NoteIncarnation(u32 node, u64 incarnation) {
    Link &l = link(node);
    const u64 old = l.incarnation.load();
    if (old != 0 && old != incarnation) {
      log().warn("network: {} restarted (incarnation {:x} -> {:x})", l.Name(), old, incarnation);
      // Requests sent to the old run are lost; the backlog waits for the new one.
      Leave(node, l.state.load() == PeerState::kAlive ? PeerState::kConnecting : l.state.load(),
            RequestFailure::kUnreachable, l.Name() + " restarted (new incarnation) before it answered; the request was lost");
      peers[node].replies.clear();
    }
    l.incarnation.store(incarnation);
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

  /** Record `r` of a received message: a view of its bytes in frame 0, and
   * its bulk frames. */
  static ReceivedPayload Take(std::vector<zmq::message_t> &frames, const Record &r) {
    ReceivedPayload p;
    p.bytes = std::string_view(static_cast<const char *>(frames[0].data()) + r.inline_offset, r.inline_size);
    p.bulk.reserve(r.bulk_frames);
    for (u32 i = 0; i < r.bulk_frames; ++i) p.bulk.push_back(std::move(frames[r.first_bulk_frame + i]));
    return p;
  }

  /** Empty when `hello` may join this cluster, else why not (both sides named). */
  std::string CheckHello(u32 node, const HelloBody &hello) const {
    const std::string me = "node " + std::to_string(opt().self) + " (" + opt().table.At(opt().self).ToString() + ")";
    if (hello.abi_version != opt().abi_version)
      return link(node).Name() + " has ABI version " + std::to_string(hello.abi_version) + ", " + me + " has " +
             std::to_string(opt().abi_version) + ": run one Chimaera build on every node";
    if (hello.cluster_identity != opt().table.Identity() || hello.num_nodes != opt().table.Size())
      return "node tables differ: " + link(node).Name() + " has " + hello.table_text + " (identity " +
             fmt::format("{:x}", hello.cluster_identity) + "), " + me + " has " + opt().table.Describe() +
             " (identity " + fmt::format("{:x}", opt().table.Identity()) + ")";
    return {};
  }

  /** Refuse the hello of `node`'s incarnation `their` (we do not adopt it). */
  void Refuse(u32 node, u64 their, const std::string &why) {
    std::vector<zmq::message_t> body;
    const std::string text = why.substr(0, kMaxTextBytes);
    body.push_back(Msg(text.data(), text.size()));
    SendControl(node, MessageType::kRefuse, std::move(body), their);
  }

  void OnMessage(std::vector<zmq::message_t> &frames) {
    std::vector<FrameView> views;
    views.reserve(frames.size());
    for (auto &f : frames) views.emplace_back(static_cast<const u8 *>(f.data()), f.size());
    std::string error;
    auto m = DecodeMessage(views, &error);
    if (!m) return Drop("a malformed message: " + error);
    const u32 node = m->header.sender_node;
    const std::string type = MessageTypeName(m->header.type);
    if (node >= peers.size() || node == opt().self)
      return Drop("a " + type + " message claiming to be from node " + std::to_string(node) + " (this node is " +
                  std::to_string(opt().self) + " of " + std::to_string(peers.size()) + ")");
    Link &l = link(node);
    Peer &p = peers[node];
    const u64 now = NowNs();
    const u64 their = m->header.sender_incarnation;
    const bool for_us = m->header.target_incarnation == opt().incarnation;
    switch (m->header.type) {
      case MessageType::kHello:
      case MessageType::kHelloAck: {
        if (m->header.type == MessageType::kHelloAck && !for_us)
          return Drop("a hello-ack from " + l.Name() + " meant for an earlier run of this node");
        if (std::string why = CheckHello(node, m->hello); !why.empty()) {
          log().error("network: refused {}: {}", l.Name(), why);
          Refuse(node, their, why);
          return;
        }
        NoteIncarnation(node, their);
        p.last_heard_ns = now;
        if (m->header.type == MessageType::kHello) {
          SendHello(node, MessageType::kHelloAck);  // its acks arrive on our PULL like everything else
          if (l.state.load() != PeerState::kAlive) {
            if (l.state.load() == PeerState::kRefused) l.state.store(PeerState::kConnecting);
            SendHello(node);  // a peer we gave up on (or never reached) is up: ask it ourselves
          }
          return;
        }
        if (l.state.load() != PeerState::kAlive)
          log().info("network: {} is {} (incarnation {:x})", l.Name(),
                     l.state.load() == PeerState::kDead ? "back" : "up", their);
        l.state.store(PeerState::kAlive);
        p.reason.clear();
        status_dirty = true;
        FlushBacklogs();
        return;
      }
      case MessageType::kRefuse: {
        if (!for_us) return Drop("a refusal from " + l.Name() + " meant for an earlier run of this node");
        p.reason = m->text;
        log().error("network: {} refused this node: {}", l.Name(), m->text);
        Leave(node, PeerState::kRefused, RequestFailure::kUnreachable, l.Name() + " refused this node: " + m->text);
        return;
      }
      case MessageType::kHeartbeat:
        if (their != l.incarnation.load()) return;  // a run we have not exchanged hellos with yet
        p.last_heard_ns = now;
        p.load = m->load;
        return;
      case MessageType::kGoodbye:
        if (their != l.incarnation.load() || l.state.load() == PeerState::kDead) return;
        p.last_heard_ns = now;
        MarkDead(node, "it stopped (goodbye)");
        return;
      case MessageType::kRequests: {
        if (!for_us || their != l.incarnation.load())
          return Drop(std::to_string(m->records.size()) + " requests from " + l.Name() +
                      " for another incarnation (a restart in between)");
        p.last_heard_ns = now;
        for (const Record &r : m->records) handler().OnRequest(RequestOrigin{node, their, r.id}, Take(frames, r));
        return;
      }
      case MessageType::kReplies: {
        if (!for_us) return Drop(std::to_string(m->records.size()) + " replies from " + l.Name() +
                                 " meant for an earlier run of this node");
        if (their != l.incarnation.load())
          return Drop(std::to_string(m->records.size()) + " replies from an earlier run of " + l.Name());
        p.last_heard_ns = now;
        for (const Record &r : m->records) {
          void *cookie = nullptr;
          {
            std::lock_guard<std::mutex> lock(owner.pending_mu_);
            auto it = owner.pending_.find(r.id);
            if (it != owner.pending_.end() && it->second.node == node) {
              cookie = it->second.cookie;
              owner.pending_.erase(it);
            }
          }
          if (cookie == nullptr) {
            Drop("a reply from " + l.Name() + " for request " + std::to_string(r.id) +
                 ", which is not pending (answered, failed or timed out already)");
            continue;
          }
          handler().OnReply(cookie, Take(frames, r));
        }
        return;
      }
    }
  }

  // ---- timers -----------------------------------------------------------------
  void Round(u64 now) {
    handler().OnHeartbeatRound();
    const u64 dead_after = ToNs(opt().peer_dead_after);
    const std::array<u8, 8> load = EncodeLoad(owner.local_load_.load(std::memory_order_relaxed));
    for (u32 node = 0; node < peers.size(); ++node) {
      Link &l = link(node);
      const PeerState st = l.state.load();
      if (st == PeerState::kSelf || st == PeerState::kRefused) continue;
      if (st == PeerState::kAlive && now - peers[node].last_heard_ns > dead_after)
        MarkDead(node, "nothing heard for " + std::to_string((now - peers[node].last_heard_ns) / 1000000) +
                           " ms (peer_dead_after " + std::to_string(opt().peer_dead_after.count()) + " ms)");
      if (l.state.load() != PeerState::kAlive) SendHello(node);
      if (l.state.load() != PeerState::kDead) {
        std::vector<zmq::message_t> body;
        body.push_back(Msg(load));
        SendControl(node, MessageType::kHeartbeat, std::move(body));
      }
    }
    status_dirty = true;
  }

  void ExpireDeadlines(u64 now) {
    std::vector<std::pair<Pending, u64>> expired;
    {
      std::lock_guard<std::mutex> lock(owner.pending_mu_);
      while (!owner.deadlines_.empty() && owner.deadlines_.front().first <= now) {
        const u64 id = owner.deadlines_.front().second;
        owner.deadlines_.pop_front();
        auto it = owner.pending_.find(id);
        if (it == owner.pending_.end()) continue;  // answered or failed already
        expired.emplace_back(it->second, id);
        owner.pending_.erase(it);
      }
    }
    for (auto &[p, id] : expired)
      Fail(p.cookie, RequestFailure::kTimedOut,
           link(p.node).Name() + " did not answer within rpc_timeout (" + std::to_string(opt().rpc_timeout.count()) +
               " ms)");
    for (u32 node = 0; node < peers.size(); ++node) {
      auto &q = peers[node].requests;
      while (!q.empty() && q.front().deadline_ns <= now) {
        void *cookie = q.front().cookie;
        q.pop_front();
        if (link(node).state.load() == PeerState::kAlive)
          Fail(cookie, RequestFailure::kTimedOut,
               link(node).Name() + " did not take the request within rpc_timeout (" +
                   std::to_string(opt().rpc_timeout.count()) + " ms): it is overloaded");
        else
          Fail(cookie, RequestFailure::kUnreachable,
               link(node).Name() + " is unreachable: it did not answer a hello within rpc_timeout (" +
                   std::to_string(opt().rpc_timeout.count()) + " ms); is it running?");
      }
      link(node).backlogged.store(static_cast<u32>(q.size() + peers[node].replies.size()));
    }
    if (!expired.empty()) status_dirty = true;
  }

  u64 NextWakeNs(u64 now) const {
    u64 next = next_round_ns;
    {
      std::lock_guard<std::mutex> lock(owner.pending_mu_);
      if (!owner.deadlines_.empty()) next = std::min(next, owner.deadlines_.front().first);
    }
    for (u32 node = 0; node < peers.size(); ++node) {
      const Peer &p = peers[node];
      if (!p.requests.empty()) next = std::min(next, p.requests.front().deadline_ns);
      // A backlog ZeroMQ could not take: retry shortly (it may have room now).
      if ((!p.requests.empty() && link(node).state.load() == PeerState::kAlive) || !p.replies.empty())
        next = std::min<u64>(next, now + kBacklogRetryMs * 1000000ull);
    }
    return next;
  }

  void Accept(Outgoing &&o) {
    if (o.node >= peers.size() || o.node == opt().self) {
      if (!o.is_reply)
        Fail(o.cookie, RequestFailure::kBadRequest,
             "no peer node " + std::to_string(o.node) + " (this is node " + std::to_string(opt().self) + " of " +
                 std::to_string(peers.size()) + ")");
      return;
    }
    Link &l = link(o.node);
    Peer &p = peers[o.node];
    if (o.is_reply) {
      if (o.origin.incarnation != l.incarnation.load() || l.state.load() == PeerState::kDead)
        return Drop("a reply to " + l.Name() + ", whose requesting run is gone");
      p.replies.push_back(std::move(o));
    } else {
      const PeerState st = l.state.load();
      if (st == PeerState::kDead || st == PeerState::kRefused)
        return Fail(o.cookie, RequestFailure::kUnreachable, l.Name() + " is unreachable: " + p.reason);
      p.requests.push_back(std::move(o));
    }
    l.backlogged.store(static_cast<u32>(p.requests.size() + p.replies.size()), std::memory_order_release);
  }

  void PublishStatus() {
    if (!status_dirty) return;
    status_dirty = false;
    std::vector<u64> in_flight(peers.size(), 0);
    {
      std::lock_guard<std::mutex> lock(owner.pending_mu_);
      for (const auto &[id, p] : owner.pending_) ++in_flight[p.node];
    }
    std::lock_guard<std::mutex> lock(owner.status_mu_);
    owner.status_.resize(peers.size());
    owner.status_heard_ns_.resize(peers.size());
    for (u32 i = 0; i < peers.size(); ++i) {
      const Peer &p = peers[i];
      const PeerState st = link(i).state.load();
      const u64 load = st == PeerState::kSelf ? owner.local_load_.load(std::memory_order_relaxed) : p.load;
      owner.status_[i] = PeerStatus{i, link(i).address, st, link(i).incarnation.load(), load, -1,
                                    in_flight[i] + p.requests.size(), p.reason};
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
  try {
    s.pull.set(zmq::sockopt::linger, 0);
    s.pull.set(zmq::sockopt::rcvhwm, options_.high_water_mark);
    s.pull.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_frame_bytes));
    s.pull.bind(bind_endpoint_);
  } catch (const zmq::error_t &e) {
    impl_.reset();
    started_ = false;
    throw TransportError("cannot listen on " + bind_endpoint_ + " (node " + std::to_string(options_.self) +
                         " of the node table): " + e.what() +
                         (e.num() == EADDRINUSE ? " (another node or program uses this address and port)" : ""));
  }
  s.peers = std::vector<Impl::Peer>(options_.table.Size());  // built in place (a deque is not nothrow-movable)
  for (u32 i = 0; i < options_.table.Size(); ++i) {
    auto l = std::make_unique<Link>();
    l->id = i;
    l->address = options_.table.At(i);
    if (i == options_.self) {
      l->state.store(PeerState::kSelf);
      l->incarnation.store(options_.incarnation);
    } else {
      l->push = std::make_unique<zmq::socket_t>(s.ctx, zmq::socket_type::push);
      l->push->set(zmq::sockopt::linger, 0);
      l->push->set(zmq::sockopt::sndhwm, options_.high_water_mark);
      // Queue only on a live connection: what ZeroMQ cannot send stays in our
      // backlog, with its deadline, instead of in a pipe to a dead peer.
      l->push->set(zmq::sockopt::immediate, 1);
      l->push->connect(l->address.Endpoint());
    }
    links_.push_back(std::move(l));
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw TransportError(std::string("eventfd: ") + std::strerror(errno));
  s.next_round_ns = 0;  // hello at once
  s.PublishStatus();
  options_.log->info("network: node {} of {} listening on {} (incarnation {:x})", options_.self,
                     options_.table.Describe(), bind_endpoint_, options_.incarnation);
  thread_ = std::thread([this] { Loop(); });
}

bool Transport::TrySendTo(u32 node, std::vector<zmq::message_t> &frames) {
  Link &l = *links_[node];
  std::lock_guard<std::mutex> lock(l.mu);
  if (!l.push) return false;  // closed
  return TrySend(*l.push, frames);
}

// One wake-up per batch: while the network thread has not taken the inbox,
// later posts only append (PostAll).
void Transport::Post(Outgoing &&out) { PostAll(&out, 1); }

std::vector<zmq::message_t> Transport::BuildMessage(MessageType type, u64 target, Outgoing *const *records,
                                                    std::size_t n) {
  std::size_t size = kHeaderBytes, nbulk = 0;
  for (std::size_t i = 0; i < n; ++i) {
    size += kRecordHeaderBytes + records[i]->payload.bytes.size();
    nbulk += records[i]->payload.bulk.size();
  }
  std::vector<zmq::message_t> frames;
  frames.reserve(1 + nbulk);
  zmq::message_t first(size);
  auto *out = static_cast<u8 *>(first.data());
  const auto header =
      EncodeHeader(MessageHeader{type, options_.self, static_cast<u32>(n), options_.incarnation, target});
  std::memcpy(out, header.data(), header.size());
  out += kHeaderBytes;
  for (std::size_t i = 0; i < n; ++i) {
    const Outgoing &o = *records[i];
    EncodeRecord(out, o.is_reply ? o.origin.request_id : o.id, static_cast<u32>(o.payload.bulk.size()),
                 o.payload.bytes);
    out += kRecordHeaderBytes + o.payload.bytes.size();
  }
  frames.push_back(std::move(first));
  for (std::size_t i = 0; i < n; ++i)
    for (auto &f : records[i]->payload.bulk) frames.push_back(std::move(f));  // bulk frames are not copied
  return frames;
}

void Transport::RestoreBulk(std::vector<zmq::message_t> &frames, Outgoing *const *records, std::size_t n) {
  std::size_t f = 1;
  for (std::size_t i = 0; i < n; ++i)
    for (auto &b : records[i]->payload.bulk) b = std::move(frames[f++]);
}

void Transport::PostAll(Outgoing *outs, std::size_t n) {
  if (n == 0) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    was_empty = inbox_.empty();
    for (std::size_t i = 0; i < n; ++i) inbox_.push_back(std::move(outs[i]));
  }
  if (was_empty) {
    const u64 one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

bool Transport::SendRequestsNow(u32 node, Outgoing *outs, std::size_t n) {
  if (node >= links_.size() || node == options_.self) return false;
  Link &l = *links_[node];
  // A live peer with nothing queued before us. Register first (the answers
  // may come before we return), under the lock a peer's death takes, so we
  // never register to a dead peer.
  if (l.state.load(std::memory_order_acquire) != PeerState::kAlive ||
      l.backlogged.load(std::memory_order_acquire) != 0)
    return false;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (l.state.load() != PeerState::kAlive) return false;
    for (std::size_t i = 0; i < n; ++i) {
      pending_.emplace(outs[i].id, Pending{node, outs[i].deadline_ns, outs[i].cookie});
      deadlines_.emplace_back(outs[i].deadline_ns, outs[i].id);
    }
  }
  std::vector<Outgoing *> ptrs(n);
  for (std::size_t i = 0; i < n; ++i) ptrs[i] = &outs[i];
  std::vector<zmq::message_t> frames = BuildMessage(MessageType::kRequests, l.incarnation.load(), ptrs.data(), n);
  bool sent = false;
  try {
    sent = TrySendTo(node, frames);
  } catch (const zmq::error_t &) {
  }
  if (sent) return true;
  RestoreBulk(frames, ptrs.data(), n);
  // Not taken: to the network thread, except those a peer's death failed
  // meanwhile (the handler was told; nothing more to do for them).
  std::size_t keep = 0;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    for (std::size_t i = 0; i < n; ++i)
      if (pending_.erase(outs[i].id) != 0) {
        if (keep != i) outs[keep] = std::move(outs[i]);
        ++keep;
      }
  }
  PostAll(outs, keep);
  return true;
}

void Transport::SendRequests(u32 node, std::vector<Request> &requests) {
  const std::size_t n = requests.size();
  if (n == 0) return;
  std::vector<Outgoing> outs(n);
  const u64 first_id = next_request_id_.fetch_add(n, std::memory_order_relaxed);
  const u64 deadline = NowNs() + ToNs(options_.rpc_timeout);
  for (std::size_t i = 0; i < n; ++i) {
    outs[i].node = node;
    outs[i].id = first_id + i;
    outs[i].cookie = requests[i].cookie;
    outs[i].deadline_ns = deadline;
    outs[i].payload = std::move(requests[i].payload);
  }
  requests.clear();
  if (closed_.load(std::memory_order_acquire) || !started_.load()) {
    for (auto &o : outs)
      handler_->OnRequestFailed(o.cookie, RequestFailure::kStopping, "node " + std::to_string(options_.self) + " is stopping");
    return;
  }
  if (!SendRequestsNow(node, outs.data(), n)) PostAll(outs.data(), n);
}

void Transport::SendRequest(u32 node, void *cookie, Payload payload) {
  std::vector<Request> one(1);
  one[0].cookie = cookie;
  one[0].payload = std::move(payload);
  SendRequests(node, one);
}

void Transport::SendReplies(std::vector<Reply> &replies) {
  if (closed_.load(std::memory_order_acquire)) {
    replies.clear();
    return;
  }
  std::vector<Outgoing> outs(replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    outs[i].is_reply = true;
    outs[i].node = replies[i].to.node;
    outs[i].origin = replies[i].to;
    outs[i].payload = std::move(replies[i].payload);
  }
  replies.clear();
  std::vector<Outgoing *> ptrs;
  for (std::size_t i = 0; i < outs.size();) {
    // A run of replies to the same requester (node and incarnation).
    std::size_t j = i;
    ptrs.clear();
    while (j < outs.size() && outs[j].node == outs[i].node && outs[j].origin.incarnation == outs[i].origin.incarnation)
      ptrs.push_back(&outs[j++]);
    const u32 node = outs[i].node;
    bool sent = false;
    if (node < links_.size() && node != options_.self && links_[node]->backlogged.load() == 0) {
      std::vector<zmq::message_t> frames =
          BuildMessage(MessageType::kReplies, outs[i].origin.incarnation, ptrs.data(), ptrs.size());
      try {
        sent = TrySendTo(node, frames);
      } catch (const zmq::error_t &) {
      }
      if (!sent) RestoreBulk(frames, ptrs.data(), ptrs.size());
    }
    if (!sent) PostAll(&outs[i], j - i);
    i = j;
  }
}

void Transport::SendReply(const RequestOrigin &to, Payload payload) {
  std::vector<Reply> one(1);
  one[0].to = to;
  one[0].payload = std::move(payload);
  SendReplies(one);
}

std::vector<PeerStatus> Transport::Peers() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  std::vector<PeerStatus> out = status_;
  const u64 now = NowNs();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (status_heard_ns_[i] != 0) out[i].ms_since_heard = static_cast<i64>((now - status_heard_ns_[i]) / 1000000);
  return out;
}

bool Transport::PeerLoad(u32 node, u64 *load, u64 *requests_in_flight) const {
  std::lock_guard<std::mutex> lock(status_mu_);
  if (node >= status_.size() || status_[node].state != PeerState::kAlive) return false;
  *load = status_[node].load;
  *requests_in_flight = status_[node].requests_in_flight;
  return true;
}

void Transport::Loop() {
  pthread_setname_np(pthread_self(), "chi_network");
  Impl &s = *impl_;
  std::vector<zmq::message_t> frames;
  std::vector<Outgoing> batch;
  const u64 round_ns = ToNs(options_.heartbeat_interval);
  while (true) {
    u64 now = NowNs();
    if (now >= s.next_round_ns) {
      s.Round(now);
      s.next_round_ns = now + round_ns;
    }
    s.ExpireDeadlines(now);
    s.FlushBacklogs();
    s.PublishStatus();

    zmq::pollitem_t items[] = {{s.pull.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    now = NowNs();
    const u64 wake = s.NextWakeNs(now);
    const auto timeout = std::chrono::milliseconds(wake > now ? static_cast<i64>((wake - now) / 1000000) + 1 : 0);
    try {
      zmq::poll(items, 2, timeout);
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
    for (int i = 0; i < kMaxReceivesPerTurn && Impl::Receive(s.pull, frames, oversized); ++i) {
      if (oversized) s.Drop("a message of more than " + std::to_string(kMaxFramesPerMessage) + " frames");
      else s.OnMessage(frames);
    }
  }

  // Stop: answer what we can, say goodbye, fail the rest, close.
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    batch.swap(inbox_);
  }
  for (auto &o : batch) s.Accept(std::move(o));
  s.FlushBacklogs();
  const std::string stopping = "node " + std::to_string(options_.self) + " is stopping";
  std::vector<void *> cookies;
  for (u32 node = 0; node < s.peers.size(); ++node) {
    if (!links_[node]->push) continue;
    if (links_[node]->state.load() == PeerState::kAlive) s.SendControl(node, MessageType::kGoodbye, std::vector<zmq::message_t>());
    for (auto &o : s.peers[node].requests) cookies.push_back(o.cookie);
    s.peers[node].requests.clear();
  }
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    closed_.store(true, std::memory_order_release);
    for (auto &[id, p] : pending_) cookies.push_back(p.cookie);
    pending_.clear();
    deadlines_.clear();
  }
  for (void *c : cookies) s.Fail(c, RequestFailure::kStopping, stopping);
  // A bounded linger lets the goodbyes and last replies leave.
  for (auto &l : links_) {
    std::lock_guard<std::mutex> lock(l->mu);
    if (!l->push) continue;
    l->push->set(zmq::sockopt::linger, kGoodbyeLingerMs);
    l->push->close();
    l->push.reset();
  }
  s.pull.close();
  s.ctx.close();
}

void Transport::Stop() {
  if (!started_.load() || stop_.exchange(true)) return;
  const u64 one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  // Posted after the network thread's last look: fail them here.
  std::vector<Outgoing> late;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    late.swap(inbox_);
  }
  for (auto &o : late)
    if (!o.is_reply)
      handler_->OnRequestFailed(o.cookie, RequestFailure::kStopping, "node " + std::to_string(options_.self) + " is stopping");
  close(wake_fd_);
  wake_fd_ = -1;
  options_.log->info("network: node {} stopped", options_.self);
}

}  // namespace chi::net
