// Serialization of every task type the project ships (seeds 000/001,
// DESIGN.md §7), as a remote node would use it: the module's container
// (loaded here by a ModuleManager) saves the original's IN params, LoadIn
// rebuilds a fresh task from the bytes, the real runtime runs it, SaveOut /
// LoadOut bring the results back into the original.
#include <gtest/gtest.h>

#include "admin/admin_tasks.h"
#include "bdev/bdev_client.h"
#include "compressor/compressor_client.h"
#include "chimaera/runtime/module_manager.h"
#include "runtime_process.h"
#include "small_message/small_message_tasks.h"
#include "worktest/worktest_client.h"

namespace {
using chi::testing::ExitedWith;
using chi::testing::RuntimeProcess;
namespace admin = chimaera::admin;
namespace wt = chimaera_test::worktest;

class TaskSerialization : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rt_.Start()) << rt_.Log();
    modules_.ScanAndLoad({CHI_MODULE_DIR, CHI_TEST_MODULE_DIR});
    for (const char *m : {"admin", "small_message", "worktest", "compressor", "bdev"})
      containers_[m].reset(modules_.CreateContainer(m, chi::PoolId(), m));
  }
  void TearDown() override { rt_.Stop(); }

  /** IN bytes -> fresh task -> run on the runtime -> OUT bytes -> original. */
  template <typename TaskT>
  void RemoteRun(const std::string &mod, chi::ipc::FullPtr<TaskT> orig) {
    chi::Container *c = containers_[mod].get();
    auto *ipc = CHI_IPC_MANAGER;
    const chi::u32 method = orig->method_;
    chi::TaskOutputArchiveIN out_in;
    c->SaveIn(method, out_in, orig.template Cast<chi::Task>());
    const std::string in_bytes = out_in.Get();
    chi::TaskInputArchiveIN in_in(in_bytes, ipc->GetAllocator());
    chi::ipc::FullPtr<chi::Task> remote = c->LoadIn(method, in_in);
    ASSERT_FALSE(remote.IsNull());
    EXPECT_EQ(remote->pool_, orig->pool_);
    EXPECT_EQ(remote->method_, method);
    ipc->Enqueue(remote);
    remote->Wait();
    chi::TaskOutputArchiveOUT out_out;
    c->SaveOut(method, out_out, remote);
    const std::string out_bytes = out_out.Get();
    chi::TaskInputArchiveOUT in_out(out_bytes, ipc->GetAllocator());
    c->LoadOut(method, in_out, orig.template Cast<chi::Task>());
    c->Del(chi::ipc::MemContext(), method, remote);
  }

  RuntimeProcess rt_;
  chi::ModuleManager modules_;
  std::map<std::string, std::unique_ptr<chi::Container>> containers_;
};

TEST_F(TaskSerialization, EveryShippedTaskTypeRoundTrips) {
  auto *ipc = CHI_IPC_MANAGER;
  const chi::ipc::MemContext mctx;
  const auto dq = chi::DomainQuery::GetDynamic();

  // admin CreatePoolTask: INOUT pool_id_ comes back.
  auto create = ipc->NewTask<admin::CreatePoolTask>(mctx, ipc->NewTaskNode(), dq, "ser_pool", "worktest", "");
  RemoteRun("admin", create);
  ASSERT_EQ(create->return_code_, chi::kTaskOk) << create->error_.str();
  const chi::PoolId pool = create->pool_id_;
  EXPECT_FALSE(pool.IsNull());
  ipc->DelTask(create);

  // worktest WorkTask: IN in_ travels, OUT out_ comes back.
  auto echo = ipc->NewTask<wt::WorkTask>(mctx, ipc->NewTaskNode(), pool, chi::DomainQuery::GetLocalHash(1),
                                         wt::Method::kEcho, 21);
  RemoteRun("worktest", echo);
  EXPECT_EQ(echo->return_code_, chi::kTaskOk);
  EXPECT_EQ(echo->out_, 42u);
  ipc->DelTask(echo);

  // A remote failure: return code and message come back on the OUT path.
  auto thrower = ipc->NewTask<wt::WorkTask>(mctx, ipc->NewTaskNode(), pool, chi::DomainQuery::GetLocalHash(0),
                                            wt::Method::kThrow, 0);
  RemoteRun("worktest", thrower);
  EXPECT_EQ(thrower->return_code_, chi::kTaskModuleException);
  EXPECT_NE(thrower->error_.str().find("boom"), std::string::npos);
  ipc->DelTask(thrower);

  // small_message MdTask (no fields of its own).
  wt::Client probe;
  auto sm_create = ipc->NewTask<admin::CreatePoolTask>(mctx, ipc->NewTaskNode(), dq, "ser_sm", "small_message", "");
  RemoteRun("admin", sm_create);
  auto md = ipc->NewTask<chimaera::small_message::MdTask>(mctx, ipc->NewTaskNode(), sm_create->pool_id_,
                                                         chi::DomainQuery::GetLocalHash(0));
  RemoteRun("small_message", md);
  EXPECT_EQ(md->return_code_, chi::kTaskOk);
  ipc->DelTask(md);
  ipc->DelTask(sm_create);

  // compressor CompressTask / DecompressTask: CHI_WRITE input and CHI_EXPOSE
  // output buffers travel as bulk data; the output comes back into the
  // original's buffer.
  {
    namespace cz = chimaera::compressor;
    auto zc = ipc->NewTask<admin::CreatePoolTask>(mctx, ipc->NewTaskNode(), dq, "ser_zip", "compressor", "");
    RemoteRun("admin", zc);
    ASSERT_EQ(zc->return_code_, chi::kTaskOk) << zc->error_.str();
    auto &alloc = ipc->GetAllocator();
    const std::string text(5000, 'x');
    chi::ipc::Pointer in = alloc.Allocate(text.size());
    std::memcpy(alloc.Convert(in), text.data(), text.size());
    const chi::u64 cap = cz::CompressBound(cz::Codec::kZstd, text.size());
    chi::ipc::Pointer packed = alloc.Allocate(cap);
    auto c = ipc->NewTask<cz::CompressTask>(mctx, ipc->NewTaskNode(), zc->pool_id_, chi::DomainQuery::GetLocalHash(0),
                                            cz::Method::kCompress, cz::Codec::kZstd, 3, in, text.size(), packed, cap);
    RemoteRun("compressor", c);
    ASSERT_EQ(c->return_code_, chi::kTaskOk) << c->error_.str();
    ASSERT_GT(c->out_size_, 0u);
    chi::ipc::Pointer restored = alloc.Allocate(text.size());
    auto d = ipc->NewTask<cz::DecompressTask>(mctx, ipc->NewTaskNode(), zc->pool_id_,
                                              chi::DomainQuery::GetLocalHash(0), cz::Method::kDecompress,
                                              cz::Codec::kZstd, 0, packed, c->out_size_, restored, text.size());
    RemoteRun("compressor", d);
    ASSERT_EQ(d->return_code_, chi::kTaskOk) << d->error_.str();
    EXPECT_EQ(d->checksum_, c->checksum_);
    EXPECT_EQ(std::string(alloc.Convert<char>(restored), text.size()), text);
    ipc->DelTask(c);
    ipc->DelTask(d);
    ipc->DelTask(zc);
    alloc.Free(in);
    alloc.Free(packed);
    alloc.Free(restored);
  }

  // bdev Allocate / Write (CHI_WRITE) / Read (CHI_EXPOSE) / Free.
  {
    namespace bd = chimaera::bdev;
    auto bc = ipc->NewTask<admin::CreatePoolTask>(mctx, ipc->NewTaskNode(), dq, "ser_bdev", "bdev", "ram,size=64k");
    RemoteRun("admin", bc);
    ASSERT_EQ(bc->return_code_, chi::kTaskOk) << bc->error_.str();
    const chi::PoolId dev = bc->pool_id_;
    const auto lq = chi::DomainQuery::GetLocalHash(0);
    auto al = ipc->NewTask<bd::AllocateTask>(mctx, ipc->NewTaskNode(), dev, lq, 5000);
    RemoteRun("bdev", al);
    ASSERT_EQ(al->return_code_, chi::kTaskOk) << al->error_.str();
    auto &alloc = ipc->GetAllocator();
    chi::ipc::Pointer src = alloc.Allocate(11), dst = alloc.Allocate(11);
    std::memcpy(alloc.Convert(src), "hello bdev!", 11);
    std::memset(alloc.Convert(dst), 0, 11);
    auto wr = ipc->NewTask<bd::WriteTask>(mctx, ipc->NewTaskNode(), dev, lq, al->offset_, src, 11);
    RemoteRun("bdev", wr);
    EXPECT_EQ(wr->return_code_, chi::kTaskOk) << wr->error_.str();
    auto rd = ipc->NewTask<bd::ReadTask>(mctx, ipc->NewTaskNode(), dev, lq, al->offset_, dst, 11);
    RemoteRun("bdev", rd);
    EXPECT_EQ(rd->data_size_, 11u);
    EXPECT_EQ(std::string(alloc.Convert<char>(dst), 11), "hello bdev!");  // came back via CHI_EXPOSE
    auto fr = ipc->NewTask<bd::FreeTask>(mctx, ipc->NewTaskNode(), dev, lq, al->offset_, 5000);
    RemoteRun("bdev", fr);
    EXPECT_EQ(fr->return_code_, chi::kTaskOk) << fr->error_.str();
    ipc->DelTask(al);
    ipc->DelTask(wr);
    ipc->DelTask(rd);
    ipc->DelTask(fr);
    ipc->DelTask(bc);
    alloc.Free(src);
    alloc.Free(dst);
  }

  // NewCopy: a deep duplicate with the same IN params.
  auto orig = ipc->NewTask<wt::WorkTask>(mctx, ipc->NewTaskNode(), pool, chi::DomainQuery::GetLocalHash(2),
                                         wt::Method::kEcho, 7);
  chi::ipc::FullPtr<chi::Task> dup;
  containers_["worktest"]->NewCopy(wt::Method::kEcho, orig.Cast<chi::Task>(), dup, true);
  ASSERT_FALSE(dup.IsNull());
  EXPECT_NE(dup.shm_, orig.shm_);
  EXPECT_EQ(chi::ipc::FullPtr<wt::WorkTask>(dup)->in_, 7u);
  containers_["worktest"]->Del(mctx, wt::Method::kEcho, dup);
  ipc->DelTask(orig);

  // admin DestroyPoolTask: the pool is gone afterwards.
  auto destroy = ipc->NewTask<admin::DestroyPoolTask>(mctx, ipc->NewTaskNode(), dq, pool);
  RemoteRun("admin", destroy);
  EXPECT_EQ(destroy->return_code_, chi::kTaskOk) << destroy->error_.str();
  ipc->DelTask(destroy);
  probe.pool_id_ = pool;
  EXPECT_THROW(probe.Call(wt::Method::kEcho, 1), chi::TaskError);

  // admin ListPoolsTask: the OUT string comes back.
  auto list = ipc->NewTask<admin::ListPoolsTask>(mctx, ipc->NewTaskNode(), dq);
  RemoteRun("admin", list);
  EXPECT_EQ(list->return_code_, chi::kTaskOk);
  EXPECT_NE(list->pools_.str().find("\tadmin\tadmin"), std::string::npos) << list->pools_.str();
  ipc->DelTask(list);

  // admin StopRuntimeTask, last: the runtime stops cleanly.
  auto stop = ipc->NewTask<admin::StopRuntimeTask>(mctx, ipc->NewTaskNode(), dq);
  RemoteRun("admin", stop);
  EXPECT_EQ(stop->return_code_, chi::kTaskOk);
  ipc->DelTask(stop);
  EXPECT_TRUE(ExitedWith(rt_.Stop(0), 0)) << rt_.Log();
}

TEST_F(TaskSerialization, UnknownMethodAndBadBytesAreErrors) {
  chi::Container *c = containers_["worktest"].get();
  chi::TaskInputArchiveIN in(std::string_view("\x01garbage", 8), CHI_IPC_MANAGER->GetAllocator());
  EXPECT_THROW(c->LoadIn(999, in), chi::ArchiveError);
  chi::TaskInputArchiveIN bad(std::string_view("\x01\x02", 2), CHI_IPC_MANAGER->GetAllocator());
  EXPECT_THROW(c->LoadIn(wt::Method::kEcho, bad), chi::ArchiveError);
}
}  // namespace
