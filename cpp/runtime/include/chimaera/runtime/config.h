#pragma once
/**
 * @file config.h
 * `chi::ServerConfig`: the runtime's configuration (DESIGN.md §9). Every key
 * has a default, so the runtime starts with no file; `CHI_SERVER_CONF` names
 * a YAML file that overrides some of them. Example (all keys, defaults):
 *
 *   workers: 2             # worker threads, 1..256
 *   lanes_per_queue: 4     # lanes of the process queue, 1..1024
 *   queue_depth: 1024      # slots per lane, 2..1048576
 *   shm_size: 256m         # segment size: bytes, or 512k / 64m / 1g / 64MiB / 1GB
 *   port: 9413             # 1..65535; also names the shm segment instance
 *   module_path: [/opt/mods]   # a string or a list; searched before CHI_REPO_PATH
 *   log_level: info        # trace, debug, info, warn, error, critical, off
 *   networking:            # absent: one node, no socket (DESIGN.md §7 "Nodes")
 *     hostfile: hosts.txt  # one host[:port] per line (net/node_table.h); or:
 *     hosts: [127.0.0.2, 127.0.0.3]   # an inline list (not both)
 *     node_id: 0           # this node; else CHI_NODE_ID, a launcher rank, or a local address
 *     rpc_timeout: 5s      # deadline of every remote task (ms, s, m)
 *     heartbeat_interval: 250ms
 *     peer_dead_after: 1500ms   # no message for this long: the peer is dead (>= 2 heartbeats)
 *     max_frame_size: 256m # largest network frame accepted (a bulk buffer travels in one)
 * Entries without a port use `port`. The hostfile is read, and this node's
 * id resolved, by ResolveCluster (at start), not by the YAML parser.
 *
 * Errors: every problem in a file (malformed YAML, unknown key, wrong type,
 * out-of-range value, duplicate key) is a `ConfigError` whose message reads
 * `<source>:<line>: key '<key>': expected <what>, found <what>`, so it can be
 * shown to the user as is.
 *
 * Thread-safety: all functions are reentrant; `Load` reads the environment
 * (getenv), so do not call it while another thread calls setenv.
 */
#include <stdexcept>
#include <string>
#include <vector>

#include "chimaera/ipc/types.h"
#include "chimaera/net/node_table.h"

namespace chi {

/** A configuration that cannot be used. The message names the source, line,
 * key, what was expected and what was found. */
class ConfigError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

/** Default worker count: one core is left to the clients (workers spin
 * briefly while busy, so more workers than free cores costs latency):
 * max(1, cores - 1), at most 8. */
u32 DefaultWorkers() noexcept;

/** YAML `networking:` (all keys optional). */
struct NetworkConfig {
  std::string hostfile;            /**< `hostfile`: path (relative: to the working directory) */
  std::vector<std::string> hosts;  /**< `hosts`: inline entries, validated when parsed */
  i64 node_id = -1;                /**< `node_id`: 0..65535; -1: resolve (ResolveCluster) */
  u64 rpc_timeout_ms = 5000;       /**< `rpc_timeout`: 10 ms .. 1 h */
  u64 heartbeat_interval_ms = 250; /**< `heartbeat_interval`: 10 ms .. 60 s */
  u64 peer_dead_after_ms = 1500;   /**< `peer_dead_after`: >= 2 * heartbeat_interval, <= 10 min */
  u64 max_frame_size = 256ull << 20; /**< `max_frame_size`: bytes, >= 1 MiB */

  bool IsCluster() const noexcept { return !hostfile.empty() || !hosts.empty(); }
  bool operator==(const NetworkConfig &) const = default;
};

struct ServerConfig {
  u32 num_workers = DefaultWorkers();  /**< YAML `workers`: worker threads, 1..256 */
  u32 lanes_per_queue = 4;        /**< YAML `lanes_per_queue`: process-queue lanes, 1..1024 */
  u32 queue_depth = 1024;         /**< YAML `queue_depth`: slots per lane, 2..(1 << 20) */
  u64 shm_size = 256ull << 20;    /**< YAML `shm_size`: segment bytes, >= 1 MiB (see ParseSize) */
  u16 port = 9413;                /**< YAML `port`: 1..65535; also names the shm segment instance */
  /** YAML `module_path`: a string or a list of non-empty strings; directories
   * the ModuleManager searches before CHI_REPO_PATH and LD_LIBRARY_PATH. */
  std::vector<std::string> module_path;
  /** YAML `log_level`: one of trace, debug, info, warn, error, critical, off
   * (validated by chi::ParseLogLevel, log.h). Not applied here: the runtime
   * calls SetLogLevel(log_level) once it has the final config. */
  std::string log_level = "info";
  /** YAML `networking`: the cluster (absent: one node). */
  NetworkConfig networking;

  /** Defaults overridden by the YAML document `text`. `source_name` is used
   * in error messages (usually the file path). An empty document, or one of
   * only comments, yields the defaults. Throws ConfigError. */
  static ServerConfig FromYamlString(const std::string &text, const std::string &source_name);
  /** FromYamlString of the contents of `path` (source name = `path`). Throws
   * ConfigError naming the path when it cannot be read. */
  static ServerConfig FromYamlFile(const std::string &path);
  /** Defaults, then CHI_PORT env (port); then the file named by
   * CHI_SERVER_CONF if set and non-empty (so a `port` key in the file wins
   * over CHI_PORT). Throws ConfigError on a bad CHI_PORT, on a
   * CHI_SERVER_CONF naming a missing/unreadable file (the message names the
   * variable and the path), or on an invalid file. */
  static ServerConfig Load();
  /** Every key, in block style, sizes in plain bytes; FromYamlString of the
   * result equals *this. */
  std::string ToYaml() const;

  bool operator==(const ServerConfig &) const = default;
};

/** The cluster a configuration describes: the node table (empty: one node,
 * no socket) and this node's id in it. */
struct ClusterConfig {
  net::NodeTable table;
  u32 self = 0;
  std::string how;  /**< how `self` was found, for the log */
  bool IsCluster() const noexcept { return !table.Empty(); }
};

/** Read `cfg.networking`'s hostfile (or inline hosts; entries without a port
 * get `cfg.port`) and find this node (net::ResolveSelf). Throws ConfigError
 * naming the file and line of a bad entry, or listing the candidates when
 * this node cannot be told. Reads the environment and the file system. */
ClusterConfig ResolveCluster(const ServerConfig &cfg);

/** Milliseconds named by `text`: a non-negative integer and a unit, ms, s or
 * m (minutes), e.g. "250ms", "5s". Throws ConfigError without a location on
 * anything else (no unit, a fraction, overflow). Pure. */
u64 ParseDurationMs(const std::string &text);

/** Bytes named by `text`: a non-negative decimal integer, optionally followed
 * (spaces allowed) by a case-insensitive binary unit: k/kb/kib = 2^10,
 * m/mb/mib = 2^20, g/gb/gib = 2^30, t/tb/tib = 2^40, b = 1. So "64m", "1g",
 * "512k", "64MiB", "1GB", "4096". Throws ConfigError (without a source
 * location) on empty input, a sign, a fraction, an unknown unit or a value
 * that does not fit in 64 bits. Thread-safe (pure). */
u64 ParseSize(const std::string &text);

}  // namespace chi
