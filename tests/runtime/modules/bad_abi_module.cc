/**
 * @file bad_abi_module.cc
 * A ChiMod that claims another ABI version (kChimaeraAbiVersion + 1): the
 * entry points of CHI_TASK_CC written by hand so get_abi_version can lie.
 * ModuleManager must refuse it with a warning naming both versions.
 */
#include "chimaera/runtime/module_api.h"

namespace chi_test {

class BadAbiContainer : public chi::Container {
 public:
  void Run(chi::u32, chi::ipc::FullPtr<chi::Task>, chi::RunContext &) override {}
  void Monitor(chi::MonitorModeId, chi::u32, chi::ipc::FullPtr<chi::Task>, chi::RunContext &) override {}
  void Del(const chi::ipc::MemContext &, chi::u32, chi::ipc::FullPtr<chi::Task>) override {}
  void SaveIn(chi::u32, chi::TaskOutputArchiveIN &, chi::ipc::FullPtr<chi::Task>) override {}
  chi::ipc::FullPtr<chi::Task> LoadIn(chi::u32, chi::TaskInputArchiveIN &) override { return {}; }
  void SaveOut(chi::u32, chi::TaskOutputArchiveOUT &, chi::ipc::FullPtr<chi::Task>) override {}
  void LoadOut(chi::u32, chi::TaskInputArchiveOUT &, chi::ipc::FullPtr<chi::Task>) override {}
};

}  // namespace chi_test

extern "C" {
__attribute__((visibility("default"))) chi::Container *alloc_state() { return new chi_test::BadAbiContainer(); }
__attribute__((visibility("default"))) chi::Container *new_state(const chi::PoolId *pool_id, const char *pool_name) {
  chi::Container *c = new chi_test::BadAbiContainer();
  c->Init(*pool_id, pool_name);
  return c;
}
__attribute__((visibility("default"))) const char *get_module_name(void) { return "test_bad_abi"; }
__attribute__((visibility("default"))) chi::u32 get_abi_version(void) { return chi::kChimaeraAbiVersion + 1; }
__attribute__((visibility("default"))) bool is_chimaera_task_ = true;
}
