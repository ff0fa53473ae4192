#pragma once
/**
 * @file domain_resolution.h
 * Where a task's DomainQuery sends it (seeds 000/001 "Worker", DESIGN.md §3.2
 * and §7 "DomainQuery kinds"): this node's container, another node, or a
 * set of containers (one replica each). The worker calls Resolve after
 * Monitor(kGlobalSchedule) replaced a dynamic query, and hands kRemote to
 * the remote queue, kFanOut to the ReplicaSet, kLocal to
 * Monitor(kLocalSchedule). Every node resolves a query alike: they share
 * each pool's container -> node map (Container::container_nodes_).
 * Pure functions; thread-safe.
 */
#include <string>

#include "chimaera/core/domain_query.h"
#include "chimaera/runtime/container.h"

namespace chi {

struct Resolution {
  enum Kind { kLocal, kRemote, kFanOut, kError };
  Kind kind = kError;
  u32 node = 0;       /**< kRemote: the node to send the task to */
  u32 lane_hash = 0;  /**< kLocal: the hash the default lane choice uses */
  u32 first = 0;      /**< kFanOut: the containers first..first+count-1 */
  u32 count = 0;
  std::string error;  /**< kError: why (kTaskBadArgument) */
};

/** Resolve `dom` for the pool of container `c` on node `self`. A dynamic
 * query resolves like a local hash (the worker replaces it first). */
Resolution ResolveDomain(const Container &c, const DomainQuery &dom, u32 self);

/** "[0, 1, 2]": the nodes of a container -> node map, for messages. */
std::string NodeList(const std::vector<u32> &container_nodes);

}  // namespace chi
