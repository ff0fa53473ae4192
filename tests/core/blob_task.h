#pragma once
// A task exercising every serialization feature: strings, vectors, INOUT
// scalars, a CHI_WRITE input buffer and a CHI_EXPOSE output buffer.
#include "chimaera/core/task.h"
#include "chimaera/core/task_archives.h"

namespace chi::testing {

struct BlobTask : public chi::Task {
  IN ipc::string name_;
  IN ipc::vector<u32> ids_;
  INOUT u64 counter_ = 0;
  IN ipc::Pointer in_data_;   // CHI_WRITE
  IN u64 in_size_ = 0;
  INOUT ipc::Pointer out_data_;  // CHI_EXPOSE: written remotely, copied back
  INOUT u64 out_size_ = 0;
  OUT ipc::string result_;

  explicit BlobTask(const ipc::CtxAllocator<CHI_ALLOC_T> &a)
      : chi::Task(a), name_(a.Get()), ids_(a.Get()), result_(a.Get()) {}

  template <typename Ar>
  void SerializeIn(Ar &ar) {
    ar(name_, ids_, counter_);
    ar.bulk(in_data_, in_size_, CHI_WRITE);
    ar.bulk(out_data_, out_size_, CHI_EXPOSE);
  }
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(counter_, result_);
    ar.bulk(out_data_, out_size_, CHI_EXPOSE);
  }
};

}  // namespace chi::testing
