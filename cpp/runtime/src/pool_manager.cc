#include "chimaera/runtime/pool_manager.h"

namespace chi {

PoolId PoolManager::Register(const std::string &name, const std::string &module, PoolId requested,
                             std::unique_ptr<Container> container, std::string *error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (by_name_.count(name)) {
    *error = "a pool named '" + name + "' already exists (id " + by_name_[name].id_.ToString() + ")";
    return PoolId();
  }
  PoolId id = requested;
  if (!id.IsNull()) {
    if (id.id_ >= kMaxPools || containers_[id.id_].load(std::memory_order_relaxed) != nullptr) {
      *error = "pool id " + id.ToString() + " is in use or out of range";
      return PoolId();
    }
  } else {
    while (next_id_ < kMaxPools && containers_[next_id_].load(std::memory_order_relaxed) != nullptr) ++next_id_;
    if (next_id_ >= kMaxPools) {
      *error = "too many pools (" + std::to_string(kMaxPools) + ")";
      return PoolId();
    }
    id = PoolId(next_id_++);
  }
  container->pool_id_ = id;
  container->pool_name_ = name;
  Container *raw = container.get();
  owned_.push_back(std::move(container));
  by_name_[name] = PoolInfo{id, name, module};
  // release: a worker that loads this pointer sees the fully built container.
  containers_[id.id_].store(raw, std::memory_order_release);
  return id;
}

PoolId PoolManager::FindPool(const std::string &name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? PoolId() : it->second.id_;
}

bool PoolManager::Destroy(PoolId id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (id.id_ >= kMaxPools || containers_[id.id_].load(std::memory_order_relaxed) == nullptr) return false;
  containers_[id.id_].store(nullptr, std::memory_order_release);  // retired; kept in owned_
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

std::vector<Container *> PoolManager::Containers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Container *> out;
  for (auto &c : owned_) out.push_back(c.get());
  return out;
}

}  // namespace chi
