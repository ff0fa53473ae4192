#pragma once
/**
 * @file remote_queue_client.h
 * Client of the remote queue: the node table and each node's state, as the
 * node this client is attached to sees it. Throws chi::TaskError on a
 * single-node runtime (it has no remote queue pool: kTaskUnknownPool).
 */
#include <sstream>
#include <string>
#include <vector>

#include "chimaera/client/container_client.h"
#include "remote_queue/remote_queue_tasks.h"

namespace chimaera::remote_queue {

struct PeerInfo {
  chi::u32 node = 0;
  std::string address;   /**< host:port */
  std::string state;     /**< self, connecting, alive, dead, refused */
  std::string incarnation;
  chi::u64 load = 0;
  chi::i64 ms_since_heard = -1;
  chi::u64 in_flight = 0;
  std::string reason;
};

class Client : public chi::ContainerClient {
 public:
  Client() { pool_id_ = chi::kRemoteQueuePoolId; }
  std::vector<PeerInfo> Peers(const chi::ipc::MemContext &mctx = chi::ipc::MemContext()) {
    auto *ipc = CHI_IPC_MANAGER;
    auto task = ipc->NewTask<PeersTask>(mctx, ipc->NewTaskNode(), chi::DomainQuery::GetLocalHash(0));
    ipc->Enqueue(task);
    WaitChecked(task);
    std::vector<PeerInfo> out;
    std::istringstream lines(task->peers_.str());
    ipc->DelTask(task);
    for (std::string line; std::getline(lines, line);) {
      std::vector<std::string> f;
      std::istringstream cols(line);
      for (std::string c; std::getline(cols, c, '\t');) f.push_back(c);
      if (f.size() < 7) continue;
      out.push_back(PeerInfo{static_cast<chi::u32>(std::stoul(f[0])), f[1], f[2], f[3], std::stoull(f[4]),
                             std::stoll(f[5]), std::stoull(f[6]), f.size() > 7 ? f[7] : std::string()});
    }
    return out;
  }
};

}  // namespace chimaera::remote_queue
