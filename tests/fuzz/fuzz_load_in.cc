// libFuzzer target: TaskInputArchiveIN::LoadTaskIn on arbitrary bytes, for a
// task with strings, a vector and CHI_WRITE / CHI_EXPOSE bulk buffers, and for
// the admin CreatePoolTask. Any outcome but ArchiveError / ShmOutOfMemory /
// success (a crash, an over-read under ASan, another exception) is a finding.
#include <unistd.h>

#include <cstdint>
#include <memory>

#include "../core/blob_task.h"
#include "chimaera/ipc/segment.h"

namespace {
chi::ipc::Allocator &Alloc() {
  static std::unique_ptr<chi::ipc::Segment> seg = [] {
    std::string name = chi::ipc::Segment::MakeName("fuzz_" + std::to_string(getpid()));
    auto s = chi::ipc::Segment::Create({name, 512ull << 20, chi::ipc::AllocatorId(50)});
    chi::ipc::Segment::Unlink(name);  // the mapping stays; nothing left behind
    return s;
  }();
  return seg->GetAllocator();
}

struct PoolLikeTask : public chi::Task {  // the shape of admin::CreatePoolTask
  chi::ipc::string pool_name_, mod_name_, args_;
  chi::PoolId pool_id_;
  explicit PoolLikeTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &a)
      : chi::Task(a), pool_name_(a.Get()), mod_name_(a.Get()), args_(a.Get()) {}
  template <typename Ar> void SerializeIn(Ar &ar) { ar(pool_name_, mod_name_, pool_id_, args_); }
  template <typename Ar> void SerializeOut(Ar &ar) { ar(pool_id_, args_); }
};

template <typename TaskT>
void LoadOne(const uint8_t *data, size_t size) {
  chi::ipc::Allocator &alloc = Alloc();
  auto task = alloc.NewObj<TaskT>(chi::ipc::CtxAllocator<CHI_ALLOC_T>(alloc));
  chi::TaskInputArchiveIN ar(std::string_view(reinterpret_cast<const char *>(data), size), alloc);
  try {
    ar.LoadTaskIn(*task);
  } catch (const chi::ArchiveError &) {
  } catch (const chi::ipc::ShmOutOfMemory &) {
  }
  if constexpr (std::is_same_v<TaskT, chi::testing::BlobTask>) {
    alloc.Free(task->in_data_);
    alloc.Free(task->out_data_);
  }
  alloc.DelObj(task);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  LoadOne<chi::testing::BlobTask>(data, size);
  LoadOne<PoolLikeTask>(data, size);
  return 0;
}
