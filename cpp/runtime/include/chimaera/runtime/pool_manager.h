#pragma once
/**
 * @file pool_manager.h
 * `chi::PoolManager`: pools -> containers on this node (DESIGN.md §2-5).
 * Pool names are unique. Every node registers every pool of the cluster
 * (same id, name and container -> node map, DESIGN.md §7), with a Container
 * object even where it holds no container of it. An id is a slot (low kSlotBits bits; slot 1 is the
 * admin pool) plus the slot's generation above them: a destroyed pool's slot
 * is reused, and a task still addressed to the old id finds no pool.
 *
 * Lookups by id (every task) are lock-free: an array of atomic Container*
 * indexed by slot, read with acquire, then the container's id compared.
 * Create/Destroy/Find-by-name take a mutex. A destroyed pool's container is
 * retired, not deleted, until the runtime stops (a worker may still hold it
 * for a task in flight); the LaneSweeper frees its queues once no worker can
 * reach them (TakeRetired).
 */
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chimaera/runtime/container.h"

namespace chi {

struct PoolInfo {
  PoolId id_;
  std::string name_;
  std::string module_;
  std::vector<u32> container_nodes_;  /**< container id -> node id */
};

class PoolManager {
 public:
  static constexpr u32 kSlotBits = 12;
  static constexpr u64 kMaxPools = u64{1} << kSlotBits; /**< pools alive at once */
  /** Requested ids must have a generation below this (leaves 2^51 fresh
   * generations per slot, so an id never wraps back to an old one). */
  static constexpr u64 kMaxGeneration = u64{1} << 51;

  /** Register `container` (owned from now on) under `name`. Uses `requested`
   * when non-null and its slot is free, else a free slot. Returns the id, or a
   * null PoolId with `error` set ("pool 'x' exists", "pool id N in use",
   * "too many pools"); a refused container is retired (see Retire). */
  PoolId Register(const std::string &name, const std::string &module, PoolId requested,
                  std::unique_ptr<Container> container, std::string *error);
  /** An id Register would accept now (a free slot, its next generation),
   * without taking it: a cluster-wide CreatePool proposes it to every node.
   * Null when no slot is free. */
  PoolId NextFreeId() const;
  /** Lock-free lookup; nullptr when unknown or destroyed. */
  Container *GetContainer(PoolId id) const noexcept {
    Container *c = containers_[id.id_ & (kMaxPools - 1)].load(std::memory_order_acquire);
    return c != nullptr && c->pool_id_ == id ? c : nullptr;
  }
  /** Id of the pool named `name`, or a null PoolId. */
  PoolId FindPool(const std::string &name) const;
  /** Remove the pool; false when unknown. Its container is retired. */
  bool Destroy(PoolId id);
  /** Keep `container`, which never became a pool (its Create failed or its
   * name was taken), as retired: its lanes are mapped and must be reclaimed
   * like a destroyed pool's. */
  void Retire(std::unique_ptr<Container> container);
  /** Retired containers whose queues were not reclaimed yet (LaneSweeper);
   * the manager keeps owning them. */
  std::vector<Container *> TakeRetired();
  std::vector<PoolInfo> List() const;
  /** Every live container (for draining on stop). */
  std::vector<Container *> Containers() const;

 private:
  mutable std::mutex mu_;
  std::atomic<Container *> containers_[kMaxPools] = {};
  std::unordered_map<std::string, PoolInfo> by_name_;
  std::vector<std::unique_ptr<Container>> owned_;  // live and retired
  std::vector<Container *> retired_;               // not yet handed to TakeRetired
  u64 generation_[kMaxPools] = {};  // latest generation handed out per slot
  bool slot_used_[kMaxPools] = {};
  u64 next_slot_ = 2;
};

}  // namespace chi
