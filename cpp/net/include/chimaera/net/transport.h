#pragma once
/**
 * @file transport.h
 * `chi::net::Transport`: the ZeroMQ transport between Chimaera nodes
 * (DESIGN.md §7 "Transport", seeds 000/001 "Remote Queue ChiMod Design").
 * It knows nodes, frames and request ids; it knows nothing of tasks,
 * workers or pools (the remote queue ChiMod puts task bytes in the frames).
 *
 * Sockets: every socket is one-way. One PULL bound on this node's address:
 * everything peers send arrives there (hellos, heartbeats, requests,
 * replies). One PUSH per peer, connected to the peer's PULL for the
 * transport's whole life: everything this node sends to that peer leaves
 * from it. Never a socket or a context per message. The ONE network thread
 * receives (it sleeps in zmq::poll on the PULL plus an eventfd that other
 * threads ring when they leave work for it), runs the timers (hellos,
 * heartbeats, deadlines) and holds the backlogs; an idle node wakes only for
 * its heartbeats. A worker that calls SendRequest / SendReply sends on the
 * peer's PUSH itself, under that PUSH's mutex (a ZeroMQ socket may be used by
 * one thread at a time and move between threads with a full barrier, which
 * the mutex gives): no hand-off to the network thread on the hot path. When
 * the PUSH has no room (the peer's high-water mark: back-pressure), is not
 * connected, or the peer has not answered a hello yet, the message goes to
 * the network thread's backlog for that peer instead, and leaves from there
 * when it can: messages waiting for the same peer leave as one (coalescing).
 *
 * Protocol (wire.h):
 *  - Hello: on start, and every heartbeat_interval while a peer has not
 *    answered, a node sends a hello (protocol and ABI version, cluster
 *    identity = hash of the node table, its id and incarnation). The peer
 *    answers hello-ack, or refuse with a message naming both sides when the
 *    versions or the node tables differ. A refused peer fails every request
 *    to it with that message.
 *  - Requests go to a peer only after its hello-ack; until then (nodes start
 *    in any order) they wait in the peer's backlog until their deadline.
 *  - Every request has an id (unique per transport) and a deadline
 *    (rpc_timeout). Exactly one of OnReply / OnRequestFailed is called per
 *    request: a reply with an unknown id (late, duplicate) or from another
 *    incarnation is dropped and logged (rate-limited).
 *  - Heartbeats: every heartbeat_interval to every live peer, carrying this
 *    node's load (SetLocalLoad). A peer not heard from for peer_dead_after
 *    is dead: its backlog and its requests in flight fail at once
 *    (kUnreachable, message naming node and address), later requests to it
 *    fail at once, and hellos go on; when it answers a hello again (a new
 *    incarnation after a restart, or the same one after a pause) traffic
 *    resumes. A hello from a new incarnation of a live peer also fails the
 *    requests sent to the old one. A stopping node says goodbye, so its
 *    peers fail its requests without waiting for the heartbeat timeout.
 *  - Back-pressure: bounded high-water marks, sends never block the network
 *    thread (ZMQ_DONTWAIT) and nothing is dropped: what ZeroMQ does not take
 *    stays queued until the peer drains, is declared dead, or the deadline
 *    passes. Linger 0, except a bounded goodbye linger on Stop.
 *  - Untrusted input: every message is validated by DecodeMessage; a bad one
 *    is dropped with a log line (rate-limited), never trusted for sizes.
 *
 * Thread-safety: SendRequest, SendReply, SetLocalLoad, Peers, Incarnation
 * may be called from any thread at any time. The handler's callbacks run on
 * the network thread, one at a time (also for requests still pending at
 * Stop, which fail with kStopping); only a SendRequest made after Stop fails
 * at once on its caller's thread.
 */
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chimaera/net/node_table.h"
#include "chimaera/net/wire.h"

namespace spdlog {
class logger;
}

namespace chi::net {

/** The transport could not start (e.g. its address is in use). */
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TransportOptions {
  NodeTable table;                 /**< every node, this one included */
  u32 self = 0;                    /**< this node's id in `table` */
  u64 incarnation = 0;             /**< this run's epoch; 0: a random one */
  u32 abi_version = 0;             /**< must match the peers' (hello) */
  std::chrono::milliseconds rpc_timeout{5000};
  std::chrono::milliseconds heartbeat_interval{250};
  std::chrono::milliseconds peer_dead_after{1500};
  int high_water_mark = 10000;     /**< messages queued per socket pipe, each way */
  i64 max_frame_bytes = i64{256} << 20;  /**< larger frames are refused by ZeroMQ */
  std::shared_ptr<spdlog::logger> log;   /**< required */
};

/** Where a request came from: what SendReply needs. Copyable. */
struct RequestOrigin {
  u32 node = 0;
  u64 incarnation = 0;  /**< the requester's, when it sent the request */
  u64 request_id = 0;
};

using Frames = std::vector<zmq::message_t>;

/** What a request or reply carries: its small bytes (the task's bytes),
 * which travel inside the message's first frame next to other records
 * (wire.h), and its bulk buffers, each a frame of its own (not copied). */
struct Payload {
  std::string bytes;
  Frames bulk;
};
/** A payload as received: `bytes` is valid during the handler call only. */
struct ReceivedPayload {
  std::string_view bytes;
  Frames bulk;
};

enum class RequestFailure : u8 {
  kUnreachable,  /**< the peer is dead, refused us, restarted, or never answered before the deadline */
  kTimedOut,     /**< the peer is alive but did not answer before the deadline */
  kStopping,     /**< this transport is stopping */
  kBadRequest,   /**< no such node, or the node is this one */
};

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  /** A peer's request; answer it some time with Transport::SendReply(origin, ...). */
  virtual void OnRequest(const RequestOrigin &origin, ReceivedPayload payload) = 0;
  /** The answer to the request SendRequest made with `cookie`. */
  virtual void OnReply(void *cookie, ReceivedPayload payload) = 0;
  /** The request made with `cookie` failed; `message` names node and address. */
  virtual void OnRequestFailed(void *cookie, RequestFailure why, const std::string &message) = 0;
  /** Before each heartbeat round (every heartbeat_interval): where the
   * handler refreshes the load figure the heartbeats carry
   * (Transport::SetLocalLoad). Default: nothing. */
  virtual void OnHeartbeatRound() {}
};

enum class PeerState : u8 { kSelf, kConnecting, kAlive, kDead, kRefused };
/** "self", "connecting", "alive", "dead", "refused". */
const char *PeerStateName(PeerState s) noexcept;

struct PeerStatus {
  u32 node = 0;
  NodeAddress address;
  PeerState state = PeerState::kConnecting;
  u64 incarnation = 0;     /**< 0 while never heard */
  u64 load = 0;            /**< from its last heartbeat (µs of queued work); this node: the figure it sends */
  i64 ms_since_heard = -1; /**< -1: never */
  u64 requests_in_flight = 0;
  std::string reason;      /**< why dead or refused */
};

class Transport {
 public:
  Transport(TransportOptions options, TransportHandler *handler);
  ~Transport();
  Transport(const Transport &) = delete;
  Transport &operator=(const Transport &) = delete;

  /** Bind this node's address and start the network thread. Throws
   * TransportError naming the endpoint (address in use, not local, ...). */
  void Start();
  /** Send what is queued (replies first), say goodbye, fail every request
   * still pending with kStopping, close the sockets. Idempotent; bounded
   * (at most ~200 ms of goodbye linger). */
  void Stop();

  /** Queue a request to `node`; `cookie` comes back in OnReply or
   * OnRequestFailed. Never blocks. */
  void SendRequest(u32 node, void *cookie, Payload payload);
  /** A request of a batch: its cookie and payload. */
  struct Request {
    void *cookie = nullptr;
    Payload payload;
  };
  /** SendRequest for several requests to `node` at once: they leave as one
   * message when ZeroMQ takes it. Consumes `requests` (left empty). */
  void SendRequests(u32 node, std::vector<Request> &requests);
  /** Queue the answer to `to`'s request. Never blocks. */
  void SendReply(const RequestOrigin &to, Payload payload);
  /** A reply of a batch. */
  struct Reply {
    RequestOrigin to;
    Payload payload;
  };
  /** SendReply for several replies at once: those to the same requester run
   * leave as one message. Consumes `replies` (left empty). */
  void SendReplies(std::vector<Reply> &replies);
  /** This node's load, sent with the next heartbeats. */
  void SetLocalLoad(u64 load) noexcept { local_load_.store(load, std::memory_order_relaxed); }

  std::vector<PeerStatus> Peers() const;
  /** Peer `node`'s load from its last heartbeat (µs of queued work) and the
   * requests to it not answered yet, as of the last status update (each
   * network loop iteration); false when it is not alive or not a peer.
   * Cheaper than Peers (no copy): for per-task scheduling decisions. */
  bool PeerLoad(u32 node, u64 *load, u64 *requests_in_flight) const;
  u64 Incarnation() const noexcept { return options_.incarnation; }
  u32 Self() const noexcept { return options_.self; }
  const NodeTable &Table() const noexcept { return options_.table; }
  /** The address this node listens on ("tcp://127.0.0.2:9413"). */
  std::string BoundEndpoint() const { return bind_endpoint_; }

 private:
  struct Link;    // a peer's PUSH socket and the state every thread reads (transport.cc)
  struct Impl;    // the network thread's own state: backlogs, timers (transport.cc)
  struct Pending {
    u32 node;
    u64 deadline_ns;
    void *cookie;
  };
  /** A request or reply handed to the network thread. */
  struct Outgoing {
    bool is_reply = false;
    u32 node = 0;            /**< destination */
    u64 id = 0;              /**< request id */
    void *cookie = nullptr;  /**< requests: the caller's, for OnReply / OnRequestFailed */
    u64 deadline_ns = 0;     /**< requests */
    Payload payload;
    RequestOrigin origin;    /**< replies: whom to answer */
  };
  /** One message of `n` records: frame 0 = header + every record's header
   * and bytes, then the records' bulk frames (moved out of the payloads). */
  std::vector<zmq::message_t> BuildMessage(MessageType type, u64 target, Outgoing *const *records, std::size_t n);
  /** Give the bulk frames back to the payloads after ZeroMQ refused `frames`. */
  static void RestoreBulk(std::vector<zmq::message_t> &frames, Outgoing *const *records, std::size_t n);
  void Post(Outgoing &&out);
  /** Post several (one lock, one wake-up). */
  void PostAll(Outgoing *outs, std::size_t n);
  /** The fast path of a batch of requests to one live peer; returns false
   * (all still in `outs`) when they must go through the network thread. */
  bool SendRequestsNow(u32 node, Outgoing *outs, std::size_t n);
  /** Send `frames` on `node`'s PUSH if it takes them now (false: it did not,
   * and the frames are intact). Any thread. */
  bool TrySendTo(u32 node, std::vector<zmq::message_t> &frames);
  void Loop();

  TransportOptions options_;
  TransportHandler *handler_;
  std::string bind_endpoint_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Link>> links_;  // index = node id (this node's has no socket)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> closed_{false};  // sockets closed: SendRequest fails at once
  std::atomic<u64> next_request_id_{1};
  std::atomic<u64> local_load_{0};
  int wake_fd_ = -1;
  std::mutex inbox_mu_;
  std::vector<Outgoing> inbox_;  // swapped out by the network thread (wake_fd_ rung on empty -> non-empty)
  // Requests handed to ZeroMQ and not answered yet. A sender registers its
  // request before sending it (the answer may arrive at once), under the
  // same lock that a peer's death takes to collect its requests, so no
  // request is registered to a peer already declared dead.
  std::mutex pending_mu_;
  std::unordered_map<u64, Pending> pending_;
  std::deque<std::pair<u64, u64>> deadlines_;  // (deadline_ns, request id), in registration order
  mutable std::mutex status_mu_;
  std::vector<PeerStatus> status_;  // snapshot, refreshed by the network thread
  std::vector<u64> status_heard_ns_;  // last time each peer was heard from (0: never)
};

}  // namespace chi::net
