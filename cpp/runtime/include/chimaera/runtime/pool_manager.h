#pragma once
/**
 * @file pool_manager.h
 * `chi::PoolManager`: pools -> containers on this node (DESIGN.md §2-5).
 * Pool names are unique; ids are assigned from 2 up (1 is the admin pool).
 *
 * Lookups by id (every task) are lock-free: an array of atomic Container*
 * indexed by id, read with acquire. Create/Destroy/Find-by-name take a mutex.
 * A destroyed pool's container is retired, not deleted, until the runtime
 * stops: a worker may still hold it for a task in flight.
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
};

class PoolManager {
 public:
  static constexpr u64 kMaxPools = 4096;

  /** Register `container` (owned from now on) under `name`. Uses `requested`
   * when non-null and free, else the next free id. Returns the id, or a null
   * PoolId with `error` set ("pool 'x' exists", "pool id N in use",
   * "too many pools"). */
  PoolId Register(const std::string &name, const std::string &module, PoolId requested,
                  std::unique_ptr<Container> container, std::string *error);
  /** Lock-free lookup; nullptr when unknown or destroyed. */
  Container *GetContainer(PoolId id) const noexcept {
    return id.id_ < kMaxPools ? containers_[id.id_].load(std::memory_order_acquire) : nullptr;
  }
  /** Id of the pool named `name`, or a null PoolId. */
  PoolId FindPool(const std::string &name) const;
  /** Remove the pool; false when unknown. */
  bool Destroy(PoolId id);
  std::vector<PoolInfo> List() const;
  /** Every live container (for draining on stop). */
  std::vector<Container *> Containers() const;

 private:
  mutable std::mutex mu_;
  std::atomic<Container *> containers_[kMaxPools] = {};
  std::unordered_map<std::string, PoolInfo> by_name_;
  std::vector<std::unique_ptr<Container>> owned_;  // live and retired
  u64 next_id_ = 2;
};

}  // namespace chi
