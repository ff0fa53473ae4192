#include "chimaera/runtime/pool_manager.h"

#include <utility>

namespace chi {

PoolId PoolManager::Register(const std::string &name, const std::string &module, PoolId requested,
                             std::unique_ptr<Container> container, std::string *error) {
  std::lock_guard<std::mutex> lock(mu_);
  // A container that does not become a pool may already have mapped lanes:
  // retire it so they are reclaimed.
  auto refuse = [&](std::string msg) {
    *error = std::move(msg);
    retired_.push_back(container.get());
    owned_.push_back(std::move(container));
    return PoolId();
  };
  if (by_name_.count(name))
    return refuse("a pool named '" + name + "' already exists (id " + by_name_[name].id_.ToString() + ")");
  PoolId id = requested;
  if (!id.IsNull()) {
    // A requested id must be newer than every id its slot ever had, or a
    // destroyed pool's id would come back to life.
    const u64 slot = id.id_ & (kMaxPools - 1), gen = id.id_ >> kSlotBits;
    if (slot == 0 || containers_[slot].load(std::memory_order_relaxed) != nullptr ||
        (slot_used_[slot] && gen <= generation_[slot]) || gen >= kMaxGeneration)
      return refuse("pool id " + id.ToString() + " is in use, was used before, or is invalid");
    generation_[slot] = gen;
    slot_used_[slot] = true;
  } else {
    // Next free slot after the last one handed out (slot 0 is never used:
    // it would make generation 0's id null).
    u64 slot = 0;
    for (u64 n = 0; n < kMaxPools - 2 && slot == 0; ++n) {
      const u64 s = next_slot_;
      next_slot_ = s + 1 < kMaxPools ? s + 1 : 2;
      if (containers_[s].load(std::memory_order_relaxed) == nullptr) slot = s;
    }
    if (slot == 0) return refuse("too many pools (" + std::to_string(kMaxPools - 2) + " at once)");
    id = PoolId((++generation_[slot] << kSlotBits) | slot);
    slot_used_[slot] = true;
  }
  container->pool_id_ = id;
  container->pool_name_ = name;
  Container *raw = container.get();
  owned_.push_back(std::move(container));
  by_name_[name] = PoolInfo{id, name, module, raw->container_nodes_};
  // release: a worker that loads this pointer sees the fully built container.
  containers_[id.id_ & (kMaxPools - 1)].store(raw, std::memory_order_release);
  return id;
}

PoolId PoolManager::NextFreeId() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (u64 n = 0, s = next_slot_; n < kMaxPools - 2; ++n, s = s + 1 < kMaxPools ? s + 1 : 2)
    if (containers_[s].load(std::memory_order_relaxed) == nullptr) return PoolId(((generation_[s] + 1) << kSlotBits) | s);
  return PoolId();
}

PoolId PoolManager::FindPool(const std::string &name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? PoolId() : it->second.id_;
}

bool PoolManager::Destroy(PoolId id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::atomic<Container *> &slot = containers_[id.id_ & (kMaxPools - 1)];
  Container *c = slot.load(std::memory_order_relaxed);
  if (c == nullptr || c->pool_id_ != id) return false;
  slot.store(nullptr, std::memory_order_release);  // retired; kept in owned_
  retired_.push_back(c);
  for (auto it = by_name_.begin(); it != by_name_.end(); ++it)
    if (it->second.id_ == id) {
      by_name_.erase(it);
      break;
    }
  return true;
}

std::vector<PoolInfo> PoolManager::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PoolInfo> out;
  for (auto &[name, info] : by_name_) out.push_back(info);
  return out;
}

void PoolManager::Retire(std::unique_ptr<Container> container) {
  std::lock_guard<std::mutex> lock(mu_);
  retired_.push_back(container.get());
  owned_.push_back(std::move(container));
}

std::vector<Container *> PoolManager::TakeRetired() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(retired_, {});
}

std::vector<Container *> PoolManager::Containers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Container *> out;
  for (auto &c : owned_) out.push_back(c.get());
  return out;
}

}  // namespace chi
