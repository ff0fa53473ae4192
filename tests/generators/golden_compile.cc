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

// The task schema: generated tasks and client of every field type, beside a
// hand-written task (kHandWritten) and a plain id (kPlain).
namespace golden::schema::allfields {
CHI_GOLDEN_TASK(CustomTask);
CHI_GOLDEN_TASK(PlainTask);
}  // namespace golden::schema::allfields
#include "allfields_schema.h"
namespace golden::schema::allfields {
class Runtime : public chi::Container {
 public:
#include "allfields_lib_exec.h"
  // kCreate / kDestroy and every Monitor may be left out.
  void Scalars(chi::ipc::FullPtr<ScalarsTask> t, chi::RunContext &) {
    t->sum_ = t->a_ + t->b_ + t->c_ + t->d_ + t->e_ + t->f_ + t->g_ + static_cast<double>(t->h_) + t->x_ + t->y_ +
              t->flag_ + static_cast<double>(t->target_.id_);
  }
  void Strings(chi::ipc::FullPtr<StringsTask> t, chi::RunContext &) {
    t->length_ = t->name_.size();
    t->note_ = t->note_.str() + "!";
  }
  void Lists(chi::ipc::FullPtr<ListsTask> t, chi::RunContext &) {
    for (chi::u32 id : t->ids_) t->flags_.emplace_back(id % 2 == 0);
    for (double &w : t->weights_) w *= 2;
  }
  void BulkIn(chi::ipc::FullPtr<BulkInTask> t, chi::RunContext &) { (void)t->data(); }
  void BulkOut(chi::ipc::FullPtr<BulkOutTask> t, chi::RunContext &) {
    t->crc_ = 1;
    t->set_data(std::string(t->size_, 'x'));
  }
  void BulkInOut(chi::ipc::FullPtr<BulkInOutTask> t, chi::RunContext &) { t->set_buffer(t->buffer()); }
  void Nothing(chi::ipc::FullPtr<NothingTask>, chi::RunContext &) {}
  void HandWritten(chi::ipc::FullPtr<CustomTask>, chi::RunContext &) {}
  void Plain(chi::ipc::FullPtr<PlainTask>, chi::RunContext &) {}
};
// The generated client's calls (compile-only).
[[maybe_unused]] void UseClient(GeneratedClient &c) {
  double sum = c.Scalars(1, 2, 3, 4, 5, 6, 7, 8, 1.5f, 2.5, true, chi::PoolId(9));
  StringsResult s = c.Strings("name", "note");
  ListsResult l = c.Lists({1, 2}, {0.5});
  c.BulkIn("data");
  BulkOutResult o = c.BulkOut(10, 1 << 20);
  std::string b = c.BulkInOut("abc", 4096);
  c.Nothing();
  GeneratedClient::FreeNothing(c.AsyncNothing());
  (void)sum, (void)s, (void)l, (void)o, (void)b;
}
}  // namespace golden::schema::allfields

// Instantiate the classes so every override is checked against chi::Container.
chi::Container *chi_golden_compile_instances[] = {
    new example::mod_name::Runtime(), new acme::storage::blobs::Runtime(), new mini::tiny::Runtime(),
    new golden::schema::allfields::Runtime()};
