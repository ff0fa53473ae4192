#pragma once
/**
 * @file node_table.h
 * The cluster's node table (DESIGN.md §7 "Nodes"): an ordered list of
 * `host:port` entries, node id = position (0-based). Read from a hostfile or
 * an inline list, and this node's own id resolved from configuration, the
 * environment, or the machine's addresses.
 *
 * Hostfile syntax, one entry per line:
 *   # comment (also after an entry)
 *   node01               host, default port
 *   node02:9500          host:port
 *   node[03-16]          bracket range, zero padding kept (node03 .. node16)
 *   10.0.0.[1-4,7]       ranges and lists, several groups per entry allowed
 *   127.0.0.2:9413
 * Hosts are names or IPv4 literals (IPv6 literals are not supported). An
 * entry that appears twice (same host and port after expansion) is an error.
 *
 * Errors: `NodeTableError`, whose message names the source (file or config
 * key), the line and the entry: "hosts.txt:3: entry 'node[5-': unclosed '['".
 * Thread-safety: value types and pure functions, except ResolveSelf, which
 * reads the environment and the machine's interfaces (reentrant).
 */
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chimaera/ipc/types.h"

namespace chi::net {

/** A hostfile or node list that cannot be used; the message says where and why. */
class NodeTableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** One node's address as written in the table (after range expansion). */
struct NodeAddress {
  std::string host;  /**< host name or IPv4 literal */
  u16 port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  /** The ZeroMQ endpoint a peer connects to: "tcp://host:port". */
  std::string Endpoint() const { return "tcp://" + ToString(); }
  bool operator==(const NodeAddress &) const = default;
};

/** One raw entry and where it came from (for messages). */
struct NodeEntry {
  std::string text;
  int line = 0;
};

class NodeTable {
 public:
  /** Most entries a table may expand to (a typo such as node[1-1000000000]
   * fails instead of exhausting memory). */
  static constexpr std::size_t kMaxNodes = 65536;

  NodeTable() = default;
  explicit NodeTable(std::vector<NodeAddress> nodes) : nodes_(std::move(nodes)) {}

  /** Parse hostfile `text`; entries without a port get `default_port`.
   * `source` names the file in messages. Throws NodeTableError. */
  static NodeTable Parse(std::string_view text, const std::string &source, u16 default_port);
  /** Parse the file at `path`. Throws NodeTableError (unreadable file too). */
  static NodeTable FromFile(const std::string &path, u16 default_port);
  /** Parse a list of entries (an inline `hosts:` list). Throws NodeTableError. */
  static NodeTable FromEntries(const std::vector<NodeEntry> &entries, const std::string &source, u16 default_port);

  std::size_t Size() const noexcept { return nodes_.size(); }
  bool Empty() const noexcept { return nodes_.empty(); }
  const NodeAddress &At(u32 node_id) const { return nodes_.at(node_id); }
  const std::vector<NodeAddress> &Nodes() const noexcept { return nodes_; }
  /** The cluster identity: FNV-1a 64 of "host:port\n" of every entry in
   * order. Two nodes agree on it only if they read the same table. */
  u64 Identity() const noexcept;
  /** "3 nodes: 127.0.0.2:9413, 127.0.0.3:9413, ..." (at most 8 listed). */
  std::string Describe() const;
  bool operator==(const NodeTable &) const = default;

 private:
  std::vector<NodeAddress> nodes_;
};

/** Expand the bracket ranges of a host pattern: "node[01-03]" -> node01,
 * node02, node03; "10.0.0.[1-2,5]" -> 10.0.0.1, 10.0.0.2, 10.0.0.5; several
 * groups multiply. At most NodeTable::kMaxNodes results. Throws
 * std::invalid_argument with the reason (unclosed '[', empty group, reversed
 * range, not a number, too many hosts). Pure. */
std::vector<std::string> ExpandHostPattern(std::string_view pattern);

/** This node's id and how it was found (for the log). */
struct SelfResolution {
  u32 node_id = 0;
  std::string how;  /**< e.g. "config key node_id", "CHI_NODE_ID", "local address 10.0.0.2" */
};

/** Find this node's id in `table`, in this order: `explicit_id` (>= 0, the
 * config key node_id), then the environment variables CHI_NODE_ID,
 * SLURM_NODEID, SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK (the first one
 * set), then the entries whose host is one of this machine's interface
 * addresses or its host name. Throws NodeTableError when an id is out of
 * range or not a number (naming where it came from), or when no entry or
 * several entries match the machine (listing the candidates and asking for
 * node_id / CHI_NODE_ID). `getenv` is injectable for tests. */
SelfResolution ResolveSelf(const NodeTable &table, i64 explicit_id,
                           const std::function<const char *(const char *)> &getenv);
/** ResolveSelf with the process environment. */
SelfResolution ResolveSelf(const NodeTable &table, i64 explicit_id);

/** True when `host` is an IPv4 literal (a.b.c.d). Pure. */
bool IsIpv4Literal(std::string_view host) noexcept;

}  // namespace chi::net
