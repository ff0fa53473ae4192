/**
 * @file good_module.cc
 * A minimal ChiMod for test_module_manager: a Container whose Run/Monitor/Del
 * do nothing, exported with CHI_TASK_CC. Built twice (tests/runtime/
 * CMakeLists.txt) under different module names via CHI_TEST_MODULE_NAME.
 * Must not call Container::CreateLocalQueue & co. (not needed to link).
 */
#include "chimaera/runtime/module_api.h"

#ifndef CHI_TEST_MODULE_NAME
#define CHI_TEST_MODULE_NAME "test_good"
#endif

namespace chi_test {

class GoodContainer : public chi::Container {
 public:
#ifdef CHI_TEST_MODULE_NS
  static constexpr const char *kChiRepoNamespace = CHI_TEST_MODULE_NS;  // as a generated lib_exec.h has it
#endif
  void Run(chi::u32, chi::ipc::FullPtr<chi::Task>, chi::RunContext &) override {}
  void Monitor(chi::MonitorModeId, chi::u32, chi::ipc::FullPtr<chi::Task>, chi::RunContext &) override {}
  void Del(const chi::ipc::MemContext &, chi::u32, chi::ipc::FullPtr<chi::Task>) override {}
  void SaveIn(chi::u32, chi::TaskOutputArchiveIN &, chi::ipc::FullPtr<chi::Task>) override {}
  chi::ipc::FullPtr<chi::Task> LoadIn(chi::u32, chi::TaskInputArchiveIN &) override { return {}; }
  void SaveOut(chi::u32, chi::TaskOutputArchiveOUT &, chi::ipc::FullPtr<chi::Task>) override {}
  void LoadOut(chi::u32, chi::TaskInputArchiveOUT &, chi::ipc::FullPtr<chi::Task>) override {}
};

}  // namespace chi_test

CHI_TASK_CC(chi_test::GoodContainer, CHI_TEST_MODULE_NAME);
