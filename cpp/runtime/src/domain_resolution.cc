// DomainQuery resolution (see domain_resolution.h).
#include "chimaera/runtime/domain_resolution.h"

namespace chi {

std::string NodeList(const std::vector<u32> &container_nodes) {
  std::string s = "[";
  for (std::size_t i = 0; i < container_nodes.size(); ++i) s += (i ? ", " : "") + std::to_string(container_nodes[i]);
  return s + "]";
}

namespace {

Resolution Error(std::string msg) {
  Resolution r;
  r.error = std::move(msg);
  return r;
}

Resolution Local(u32 lane_hash) {
  Resolution r;
  r.kind = Resolution::kLocal;
  r.lane_hash = lane_hash;
  return r;
}

std::string PoolName(const Container &c) { return "pool '" + c.pool_name_ + "'"; }

/** Container `id`'s node: local, or remote. */
Resolution ToContainer(const Container &c, u32 id, u32 self, u32 lane_hash) {
  const u32 node = c.container_nodes_[id];
  if (node == self && c.container_id_ == id) return Local(lane_hash);
  Resolution r;
  r.kind = Resolution::kRemote;
  r.node = node;
  return r;
}

}  // namespace

Resolution ResolveDomain(const Container &c, const DomainQuery &dom, u32 self) {
  const u32 n = c.NumContainers(), sel = dom.GetSelector();
  switch (dom.GetKind()) {
    case DomainQuery::kDynamic:
    case DomainQuery::kLocalHash:
    case DomainQuery::kLocalId:
      if (!c.HasLocalContainer())
        return Error(PoolName(c) + " has no container on this node (node " + std::to_string(self) +
                     "); its containers are on nodes " + NodeList(c.container_nodes_) +
                     ": address one with GetDirectHash, GetDirectId or GetGlobalNode");
      if (dom.GetKind() == DomainQuery::kLocalId && sel != c.container_id_)
        return Error(sel < n ? "container " + std::to_string(sel) + " of " + PoolName(c) + " is on node " +
                                   std::to_string(c.container_nodes_[sel]) + ", not on this node (node " +
                                   std::to_string(self) + ", container " + std::to_string(c.container_id_) +
                                   "): GetLocalId names this node's container; use GetDirectId(" +
                                   std::to_string(sel) + ")"
                             : PoolName(c) + " has containers 0.." + std::to_string(n - 1) + ", not " +
                                   std::to_string(sel));
      return Local(sel);
    case DomainQuery::kGlobalNode: {
      const ContainerId id = c.ContainerOnNode(sel);
      if (id == Container::kNoContainer)
        return Error(PoolName(c) + " has no container on node " + std::to_string(sel) + " (its containers are on nodes " +
                     NodeList(c.container_nodes_) + ")");
      return ToContainer(c, id, self, sel);
    }
    case DomainQuery::kDirectId:
      if (sel >= n)
        return Error(PoolName(c) + " has containers 0.." + std::to_string(n - 1) + ", not " + std::to_string(sel));
      return ToContainer(c, sel, self, sel);
    case DomainQuery::kDirectHash:
      // The container by hash; within it, the lane by the rest of the hash.
      return ToContainer(c, sel % n, self, sel / n);
    case DomainQuery::kRange: {
      const u64 end = u64{sel} + dom.GetCount();
      if (dom.GetCount() == 0 || end > n)
        return Error("range " + std::to_string(sel) + "+" + std::to_string(dom.GetCount()) + " of " + PoolName(c) +
                     " is empty or past its containers 0.." + std::to_string(n - 1));
      Resolution r;
      r.kind = Resolution::kFanOut;
      r.first = sel;
      r.count = dom.GetCount();
      return r;
    }
    case DomainQuery::kBroadcast: {
      Resolution r;
      r.kind = Resolution::kFanOut;
      r.first = 0;
      r.count = n;
      return r;
    }
    case DomainQuery::kNone:
      break;
  }
  return Error("the task has no DomainQuery (a default-constructed DomainQuery addresses nothing): use "
               "DomainQuery::GetDynamic(), GetLocalHash(h), GetDirectHash(h), GetDirectId(c), GetGlobalNode(n), "
               "GetRange(first, count) or GetBroadcast()");
}

}  // namespace chi
