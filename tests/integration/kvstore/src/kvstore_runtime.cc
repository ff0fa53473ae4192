// Runtime of chimaera_test::kvstore: the handlers of the methods that
// chimaera_mod.yaml declares with fields (the tasks, client, serialization
// and Python binding are generated). Handlers of different lanes run on
// different workers at once, so the map has a mutex.
#include <map>
#include <mutex>
#include <string>

#include "chimaera/runtime/module_api.h"
#include "kvstore_schema.h"

namespace chimaera_test::kvstore {

class Runtime : public chi::Container {
 public:
#include "kvstore_lib_exec.h"

  void Put(chi::ipc::FullPtr<PutTask> task, chi::RunContext &) {
    std::lock_guard<std::mutex> lock(mu_);
    map_[task->key_.str()] = std::string(task->value());
  }
  void Get(chi::ipc::FullPtr<GetTask> task, chi::RunContext &) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(task->key_.str());
    task->found_ = it != map_.end();
    if (task->found_) task->set_value(it->second);
  }
  void Erase(chi::ipc::FullPtr<EraseTask> task, chi::RunContext &) {
    std::lock_guard<std::mutex> lock(mu_);
    task->erased_ = map_.erase(task->key_.str()) > 0;
  }
  // Test-only methods: every other field type and direction.
  void Stats(chi::ipc::FullPtr<StatsTask> task, chi::RunContext &) {
    std::lock_guard<std::mutex> lock(mu_);
    task->keys_ = map_.size();
    for (const auto &[key, value] : map_) task->sizes_.emplace_back(value.size());
    task->name_ = pool_name_;
  }
  void Echo(chi::ipc::FullPtr<EchoTask> task, chi::RunContext &) {
    std::string blob(task->blob());
    for (char &c : blob) c = static_cast<char>(c + task->tag_);
    if (!task->set_blob(blob + blob)) task->SetError(chi::kTaskBadArgument, "echo: the doubled blob does not fit");
    task->count_ += 1;
    task->scaled_ = task->scale_ * 2;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> map_;
};

}  // namespace chimaera_test::kvstore

CHI_TASK_CC(chimaera_test::kvstore::Runtime, "kvstore");
