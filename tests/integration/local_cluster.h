#pragma once
// LocalCluster: N real chimaera_runtime processes forming one cluster on this
// machine, node k on its own loopback address 127.0.0.(2+k), all on one port
// (DESIGN.md §7 "Nodes"; every address of 127.0.0.0/8 answers on Linux's lo).
// Each node gets the same inline node table and its own node_id. The test
// process is a client of one node at a time (Connect(k)).
#include <memory>
#include <string>
#include <vector>

#include "admin/admin_client.h"
#include "runtime_process.h"

namespace chi::testing {

struct ClusterOptions {
  int nodes = 2;
  int workers = 1;
  std::string heartbeat = "100ms";
  std::string dead_after = "600ms";
  std::string rpc_timeout = "5s";
  std::string extra_yaml;  /**< more top-level keys, e.g. "shm_size: 64m\n" */
  /** Nodes whose table differs (a hello-mismatch test): node id -> table. */
  std::vector<std::pair<int, std::string>> table_override;
};

class LocalCluster {
 public:
  explicit LocalCluster(ClusterOptions opt = {}) : opt_(std::move(opt)), port_(UniquePort()) {
    for (int k = 0; k < opt_.nodes; ++k) nodes_.push_back(MakeNode(k));
  }
  ~LocalCluster() { CHI_IPC_MANAGER->Finalize(); }

  static std::string Host(int k) { return "127.0.0." + std::to_string(2 + k); }
  std::string Hosts() const {
    std::string s = "[";
    for (int k = 0; k < opt_.nodes; ++k) s += (k ? ", " : "") + Host(k);
    return s + "]";
  }
  std::string Yaml(int k) const {
    std::string table = Hosts();
    for (auto &[node, t] : opt_.table_override)
      if (node == k) table = t;
    return "workers: " + std::to_string(opt_.workers) + "\nlog_level: info\n" + opt_.extra_yaml +
           "networking:\n  hosts: " + table + "\n  node_id: " + std::to_string(k) +
           "\n  heartbeat_interval: " + opt_.heartbeat + "\n  peer_dead_after: " + opt_.dead_after +
           "\n  rpc_timeout: " + opt_.rpc_timeout + "\n";
  }
  /** Launch every node, then wait until each accepts clients. */
  bool Start(int timeout_ms = 15000) {
    for (auto &n : nodes_) n->Launch();
    for (auto &n : nodes_)
      if (!n->Connect(timeout_ms)) return false;
    return true;
  }
  /** Attach this process to node k (detaching from the previous one). */
  bool Connect(int k, int timeout_ms = 10000) { return nodes_[k]->Connect(timeout_ms); }
  RuntimeProcess &Node(int k) { return *nodes_[k]; }
  /** A fresh process object for node k (after it was killed): same config. */
  void Replace(int k) { nodes_[k] = MakeNode(k); }
  u16 Port() const { return port_; }
  int Size() const { return opt_.nodes; }
  std::string Logs() {
    std::string s;
    for (int k = 0; k < opt_.nodes; ++k) s += "---- node " + std::to_string(k) + " log ----\n" + nodes_[k]->Log();
    return s;
  }

  /** Wait until the connected node sees every peer alive (its remote queue's
   * peer table); false on timeout. */
  bool WaitAllAlive(int timeout_ms = 10000);

 private:
  std::unique_ptr<RuntimeProcess> MakeNode(int k) {
    return std::make_unique<RuntimeProcess>(Yaml(k), port_, Host(k));
  }
  ClusterOptions opt_;
  u16 port_;
  std::vector<std::unique_ptr<RuntimeProcess>> nodes_;
};

}  // namespace chi::testing

#include "remote_queue/remote_queue_client.h"

namespace chi::testing {

inline bool LocalCluster::WaitAllAlive(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (const auto &p : chimaera::remote_queue::Client().Peers()) all &= p.state == "alive" || p.state == "self";
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace chi::testing
