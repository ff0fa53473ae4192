// Compiles the golden generator outputs (tests/generators/golden/*/<mod>/autogen)
// inside chi::Container subclasses, so a template change that emits invalid
// C++ fails the build even for features the shipped modules do not use:
// nested namespaces, task-type overrides, optional inherited methods, large
// ids, missing kDestroy. Compile-only: nothing here runs.
#include <string>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/container.h"

// Task types the golden YAMLs name (default <Name>Task, or the `task:` override).
#define CHI_GOLDEN_TASK(T)                       \
  struct T : public chi::Task {                  \
    using chi::Task::Task;                       \
    template <typename Ar> void SerializeIn(Ar &) {}  \
    template <typename Ar> void SerializeOut(Ar &) {} \
  }
#define CHI_GOLDEN_METHOD(F, T)                                 \
  void F(chi::ipc::FullPtr<T>, chi::RunContext &) {}            \
  void Monitor##F(chi::MonitorModeId, chi::ipc::FullPtr<T>, chi::RunContext &) {}

#include "mod_name_methods.h"
namespace example::mod_name {
CHI_GOLDEN_TASK(CreateTask);
CHI_GOLDEN_TASK(DestroyTask);
CHI_GOLDEN_TASK(CompressTask);
CHI_GOLDEN_TASK(DecompressTask);
class Runtime : public chi::Container {
 public:
#include "mod_name_lib_exec.h"
  CHI_GOLDEN_METHOD(Create, CreateTask)
  CHI_GOLDEN_METHOD(Destroy, DestroyTask)
  CHI_GOLDEN_METHOD(Compress, CompressTask)
  CHI_GOLDEN_METHOD(Decompress, DecompressTask)
};
}  // namespace example::mod_name

#include "blobs_methods.h"
namespace acme::storage::blobs {
CHI_GOLDEN_TASK(BlobCreateTask);
CHI_GOLDEN_TASK(NodeFailureTask);
CHI_GOLDEN_TASK(BlobTask);
CHI_GOLDEN_TASK(StatTask);
CHI_GOLDEN_TASK(FlushTask);
class Runtime : public chi::Container {
 public:
#include "blobs_lib_exec.h"
  CHI_GOLDEN_METHOD(Create, BlobCreateTask)
  CHI_GOLDEN_METHOD(NodeFailure, NodeFailureTask)
  CHI_GOLDEN_METHOD(Put, BlobTask)
  CHI_GOLDEN_METHOD(Get, BlobTask)
  CHI_GOLDEN_METHOD(Stat, StatTask)
  CHI_GOLDEN_METHOD(Flush, FlushTask)
};
}  // namespace acme::storage::blobs

#include "tiny_methods.h"
namespace mini::tiny {
CHI_GOLDEN_TASK(CreateTask);
CHI_GOLDEN_TASK(ATask);
CHI_GOLDEN_TASK(BTask);
class Runtime : public chi::Container {
 public:
#include "tiny_lib_exec.h"
  CHI_GOLDEN_METHOD(Create, CreateTask)
  CHI_GOLDEN_METHOD(A, ATask)
  CHI_GOLDEN_METHOD(B, BTask)
};
static_assert(Method::kB == 4000000000u);
}  // namespace mini::tiny

// Instantiate the classes so every override is checked against chi::Container.
chi::Container *chi_golden_compile_instances[] = {
    new example::mod_name::Runtime(), new acme::storage::blobs::Runtime(), new mini::tiny::Runtime()};
