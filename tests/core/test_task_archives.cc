// Task serialization (seeds 000/001): IN round trip into a fresh task (as a
// remote node would rebuild it), "run" it, OUT round trip back into the
// original; bulk of 0 B, small and tens of MB with CHI_WRITE and CHI_EXPOSE;
// truncated and corrupted bytes raise ArchiveError, never crash or over-read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "blob_task.h"
#include "chimaera/ipc/segment.h"

namespace {
using namespace chi;
using chi::testing::BlobTask;

class TaskArchives : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = ipc::Segment::MakeName("arch_" + std::to_string(getpid()));
    seg_ = ipc::Segment::Create({name_, 512 << 20, ipc::AllocatorId(41)});
    alloc_ = seg_->GetAllocator();
  }
  void TearDown() override {
    seg_.reset();
    ipc::Segment::Unlink(name_);
  }
  ipc::FullPtr<BlobTask> NewBlob() { return alloc_.NewObj<BlobTask>(ipc::CtxAllocator<CHI_ALLOC_T>(alloc_)); }
  /** Original task with `n` input bytes and an `n`-byte exposed output buffer. */
  ipc::FullPtr<BlobTask> MakeOriginal(std::size_t n) {
    auto t = NewBlob();
    t->pool_ = PoolId(77);
    t->method_ = 12;
    t->dom_query_ = DomainQuery::GetLocalHash(5);
    t->task_node_ = TaskNode{99, 2};
    t->name_ = "blob";
    for (u32 i = 0; i < 10; ++i) t->ids_.push_back(i * i);
    t->counter_ = 41;
    t->in_data_ = alloc_.Allocate(n);
    t->in_size_ = n;
    for (std::size_t i = 0; i < n; ++i) alloc_.Convert<char>(t->in_data_)[i] = static_cast<char>(i * 7);
    t->out_data_ = alloc_.Allocate(n);
    t->out_size_ = n;
    return t;
  }
  std::string name_;
  std::unique_ptr<ipc::Segment> seg_;
  ipc::Allocator alloc_;
};

void RoundTrip(TaskArchives *fx, ipc::Allocator &alloc, ipc::FullPtr<BlobTask> orig, std::size_t n) {
  TaskOutputArchiveIN out_in;
  out_in.SaveTaskIn(*orig);
  std::string wire_in = out_in.Get();
  // Remote: rebuild into a fresh task.
  auto remote = alloc.NewObj<BlobTask>(ipc::CtxAllocator<CHI_ALLOC_T>(alloc));
  TaskInputArchiveIN in_in(wire_in, alloc);
  in_in.LoadTaskIn(*remote);
  EXPECT_EQ(in_in.Remaining(), 0u);
  EXPECT_EQ(remote->pool_, PoolId(77));
  EXPECT_EQ(remote->method_, 12u);
  EXPECT_EQ(remote->dom_query_, DomainQuery::GetLocalHash(5));
  EXPECT_EQ(remote->task_node_.root_, 99u);
  EXPECT_EQ(remote->name_, std::string_view("blob"));
  ASSERT_EQ(remote->ids_.size(), 10u);
  EXPECT_EQ(remote->ids_[9], 81u);
  ASSERT_EQ(remote->in_size_, n);
  EXPECT_NE(remote->in_data_, orig->in_data_);  // its own copy
  if (n) EXPECT_EQ(std::memcmp(alloc.Convert(remote->in_data_), alloc.Convert(orig->in_data_), n), 0);
  ASSERT_EQ(remote->out_size_, n);
  // "Run": reverse the input into the exposed buffer.
  char *src = alloc.Convert<char>(remote->in_data_), *dst = alloc.Convert<char>(remote->out_data_);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(dst[i], 0) << "exposed buffer starts zeroed";
    dst[i] = src[n - 1 - i];
  }
  remote->counter_ += 1;
  remote->result_ = "done";
  TaskOutputArchiveOUT out_out;
  out_out.SaveTaskOut(*remote);
  std::string wire_out = out_out.Get();
  TaskInputArchiveOUT in_out(wire_out, alloc);
  in_out.LoadTaskOut(*orig);
  EXPECT_EQ(orig->counter_, 42u);
  EXPECT_EQ(orig->result_, std::string_view("done"));
  char *o = alloc.Convert<char>(orig->out_data_), *i0 = alloc.Convert<char>(orig->in_data_);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(o[i], i0[n - 1 - i]);
  // CHI_WRITE data does not travel back on the OUT path; CHI_EXPOSE does.
  EXPECT_LT(wire_out.size(), n + 200);
  (void)fx;
}

TEST_F(TaskArchives, RoundTripEmptySmallAndLargeBulk) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{24} << 20}) {
    SCOPED_TRACE(n);
    RoundTrip(this, alloc_, MakeOriginal(n), n);
  }
}

TEST_F(TaskArchives, EveryTruncationIsAnError) {
  auto orig = MakeOriginal(300);
  TaskOutputArchiveIN out;
  out.SaveTaskIn(*orig);
  std::string wire = out.Get();
  for (std::size_t len = 0; len < wire.size(); ++len) {
    auto fresh = NewBlob();
    TaskInputArchiveIN in(std::string_view(wire.data(), len), alloc_);
    EXPECT_THROW(in.LoadTaskIn(*fresh), ArchiveError) << "prefix " << len << " of " << wire.size();
  }
}

TEST_F(TaskArchives, CorruptLengthDoesNotAllocateOrOverRead) {
  auto orig = MakeOriginal(16);
  TaskOutputArchiveIN out;
  out.SaveTaskIn(*orig);
  std::string wire = out.Get();
  // The string length follows the base fields; find "blob" and patch the
  // 8-byte length right before it to 2^60.
  std::size_t at = wire.find("blob");
  ASSERT_NE(at, std::string::npos);
  chi::u64 huge = 1ull << 60;
  std::memcpy(&wire[at - 8], &huge, 8);
  auto fresh = NewBlob();
  TaskInputArchiveIN in(wire, alloc_);
  EXPECT_THROW(in.LoadTaskIn(*fresh), ArchiveError);
}

TEST_F(TaskArchives, RandomCorruptionNeverCrashes) {
  auto orig = MakeOriginal(64);
  TaskOutputArchiveIN out;
  out.SaveTaskIn(*orig);
  const std::string wire = out.Get();
  std::mt19937 rng(1234);
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bad = wire;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto fresh = NewBlob();
    TaskInputArchiveIN in(bad, alloc_);
    try {
      in.LoadTaskIn(*fresh);
    } catch (const ArchiveError &) {
      ++errors;
    } catch (const ipc::ShmOutOfMemory &) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

TEST_F(TaskArchives, OutPathRejectsSizeMismatch) {
  auto orig = MakeOriginal(32);
  auto remote = MakeOriginal(16);
  TaskOutputArchiveOUT out;
  out.SaveTaskOut(*remote);
  std::string wire = out.Get();
  TaskInputArchiveOUT in(wire, alloc_);
  EXPECT_THROW(in.LoadTaskOut(*orig), ArchiveError);
}
}  // namespace

namespace {
TEST_F(TaskArchives, HugeExposeIsRejectedAndFailedLoadsFreeTheirBuffers) {
  auto orig = MakeOriginal(64);
  orig->out_size_ = 1ull << 40;  // a 1 TiB exposed buffer, claimed by 20-odd bytes
  TaskOutputArchiveIN out;
  out.SaveTaskIn(*orig);
  std::string wire = out.Get();
  const chi::u64 before = alloc_.UnusedBumpBytes();
  for (int i = 0; i < 1000; ++i) {
    auto fresh = NewBlob();
    TaskInputArchiveIN in(wire, alloc_);
    EXPECT_THROW(in.LoadTaskIn(*fresh), ArchiveError);
    EXPECT_TRUE(fresh->in_data_.IsNull());  // the CHI_WRITE buffer was freed and nulled
    alloc_.DelObj(fresh);
  }
  // 1000 failed loads did not consume the heap: freed blocks were reused.
  EXPECT_GT(alloc_.UnusedBumpBytes() + (1 << 20), before);
}
}  // namespace
