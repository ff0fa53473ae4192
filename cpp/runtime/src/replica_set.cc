// Fan-out tasks (see replica_set.h).
#include "chimaera/runtime/replica_set.h"

#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/domain_resolution.h"
#include "chimaera/runtime/log.h"
#include "chimaera/runtime/runtime.h"

namespace chi {

std::vector<ipc::FullPtr<Task>> ReplicaSet::MakeReplicas(ipc::FullPtr<Task> parent, Container *c, u32 first,
                                                         u32 count) {
  auto fan_out = std::make_shared<FanOut>();
  fan_out->parent = parent;
  fan_out->container = c;
  fan_out->total = fan_out->pending = count;
  TaskOutputArchiveIN out;
  c->SaveIn(parent->method_, out, parent);
  const std::string bytes = out.Get();
  std::vector<ipc::FullPtr<Task>> made;
  std::vector<Replica> records;
  try {
    for (u32 k = 0; k < count; ++k) {
      TaskInputArchiveIN in(bytes, CHI_IPC_MANAGER->GetAllocator());
      ipc::FullPtr<Task> r = c->LoadIn(parent->method_, in);
      made.push_back(r);
      records.push_back(Replica{fan_out, first + k, in.LoadedBulk()});
      r->type_id_ = parent->type_id_;
      r->dom_query_ = DomainQuery::GetDirectId(first + k);
      r->task_flags_.UnsetBits(TASK_FIRE_AND_FORGET | TASK_REMOTE);
      r->task_flags_.SetBits(TASK_REPLICA);
    }
  } catch (...) {
    for (std::size_t i = 0; i < made.size(); ++i) {
      c->Del(ipc::MemContext(), parent->method_, made[i]);
      for (ipc::Pointer p : records[i].buffers) CHI_IPC_MANAGER->GetAllocator().Free(p);
    }
    throw;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < made.size(); ++i) replicas_[made[i].shm_.offset_] = std::move(records[i]);
  return made;
}

bool ReplicaSet::ReplicaDone(ipc::FullPtr<Task> replica) noexcept {
  Replica rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = replicas_.find(replica.shm_.offset_);
    if (it == replicas_.end()) return false;
    rec = std::move(it->second);
    replicas_.erase(it);
  }
  FanOut &f = *rec.fan_out;
  Container *c = f.container;
  const u32 method = replica->method_;
  bool last;
  {
    std::lock_guard<std::mutex> lock(f.mu);
    const std::string where = "container " + std::to_string(rec.container) + " (node " +
                              std::to_string(c->container_nodes_[rec.container]) + ")";
    if (replica->HasError()) {
      if (f.failed++ == 0) f.first_error = replica->return_code_;
      f.errors += (f.errors.empty() ? "" : "; ") + where + ": " + replica->error_.str();
    } else {
      try {
        c->Aggregate(method, f.parent, replica, !f.have_output);
        f.have_output = true;
      } catch (const std::exception &e) {
        if (f.failed++ == 0) f.first_error = kTaskModuleException;
        f.errors += (f.errors.empty() ? "" : "; ") + where + ": merging its outputs failed: " + e.what();
      }
    }
    last = --f.pending == 0;
  }
  c->Del(ipc::MemContext(), method, replica);
  for (ipc::Pointer p : rec.buffers) CHI_IPC_MANAGER->GetAllocator().Free(p);
  if (last) {
    if (f.failed)
      f.parent->SetError(f.first_error, std::to_string(f.failed) + " of " + std::to_string(f.total) +
                                            " replicas failed: " + f.errors);
    CHI_RUNTIME->CompleteTask(f.parent);
  }
  return true;
}

}  // namespace chi
