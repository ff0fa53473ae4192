// bdev ChiMod through a real runtime: allocate, write, read back; data is in
// the backing file as soon as Write completes (read here with pread, not
// through the runtime); RAM backend; out-of-range, unallocated and freed
// ranges are errors and the runtime keeps serving; bad pool arguments.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "bdev/bdev_client.h"
#include "runtime_process.h"

namespace {
using chi::testing::ExitedWith;
using chi::testing::RuntimeProcess;
using chimaera::bdev::Client;

class Bdev : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rt_.Start()) << rt_.Log();
    path_ = "/tmp/chi_bdev_" + std::to_string(getpid()) + ".img";
  }
  void TearDown() override {
    EXPECT_TRUE(ExitedWith(rt_.Stop(), 0)) << rt_.Log();
    unlink(path_.c_str());
  }
  chi::ipc::Pointer Buf(const std::string &s) {
    auto &a = CHI_IPC_MANAGER->GetAllocator();
    chi::ipc::Pointer p = a.Allocate(s.size());
    std::memcpy(a.Convert(p), s.data(), s.size());
    return p;
  }
  std::string Str(chi::ipc::Pointer p, std::size_t n) {
    return std::string(CHI_IPC_MANAGER->GetAllocator().Convert<char>(p), n);
  }
  /** Expect a kTaskBadArgument error whose message contains `needle`. */
  template <typename Fn>
  void ExpectBad(const std::string &needle, Fn fn) {
    try {
      fn();
      ADD_FAILURE() << "expected an error containing '" << needle << "'";
    } catch (const chi::TaskError &e) {
      EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  RuntimeProcess rt_;
  std::string path_;
  chi::ipc::MemContext mctx_;
};

TEST_F(Bdev, FileBackedWriteIsDurableAndReadsBack) {
  Client dev;
  dev.Create(mctx_, chi::DomainQuery::GetDynamic(), "disk", "file=" + path_ + ",size=1m");
  chi::u64 a = dev.Allocate(mctx_, 10000);  // 3 blocks
  chi::u64 b = dev.Allocate(mctx_, 4096);
  EXPECT_EQ(a % 4096, 0u);
  EXPECT_NE(a, b);
  std::string payload(10000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  chi::ipc::Pointer src = Buf(payload);
  dev.Write(mctx_, a, src, payload.size());
  // Durable in the file now: read it without the runtime.
  int fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string on_disk(payload.size(), '\0');
  ASSERT_EQ(pread(fd, on_disk.data(), on_disk.size(), static_cast<off_t>(a)), static_cast<ssize_t>(on_disk.size()));
  close(fd);
  EXPECT_EQ(on_disk, payload);
  chi::ipc::Pointer dst = Buf(std::string(payload.size(), '\0'));
  dev.Read(mctx_, a, dst, payload.size());
  EXPECT_EQ(Str(dst, payload.size()), payload);
}

TEST_F(Bdev, RamBackend) {
  Client dev;
  dev.Create(mctx_, chi::DomainQuery::GetDynamic(), "ram", "ram,size=64k,block=1k");
  chi::u64 off = dev.Allocate(mctx_, 3000);
  chi::ipc::Pointer src = Buf("hello bdev");
  dev.Write(mctx_, off + 5, src, 10);
  chi::ipc::Pointer dst = Buf(std::string(10, '\0'));
  dev.Read(mctx_, off + 5, dst, 10);
  EXPECT_EQ(Str(dst, 10), "hello bdev");
}

TEST_F(Bdev, BoundsAndAllocationAreChecked) {
  Client dev;
  dev.Create(mctx_, chi::DomainQuery::GetDynamic(), "chk", "ram,size=16k");
  chi::ipc::Pointer buf = Buf(std::string(8192, 'x'));
  ExpectBad("outside", [&] { dev.Write(mctx_, 16384 - 10, buf, 100); });
  ExpectBad("outside", [&] { dev.Read(mctx_, ~chi::u64{0} - 5, buf, 100); });
  ExpectBad("not allocated", [&] { dev.Write(mctx_, 0, buf, 100); });
  chi::u64 off = dev.Allocate(mctx_, 4096);
  dev.Write(mctx_, off, buf, 4096);
  ExpectBad("not allocated", [&] { dev.Read(mctx_, off, buf, 8192); });  // second block unallocated
  dev.Free(mctx_, off, 4096);
  ExpectBad("not allocated", [&] { dev.Read(mctx_, off, buf, 10); });
  ExpectBad("not allocated", [&] { dev.Free(mctx_, off, 4096); });  // double free
  ExpectBad("contiguous", [&] { dev.Allocate(mctx_, 1 << 20); });
  // Still serving.
  chi::u64 again = dev.Allocate(mctx_, 16384);
  EXPECT_EQ(again, 0u);
}

TEST_F(Bdev, BadPoolArguments) {
  Client dev;
  ExpectBad("exactly one", [&] { dev.Create(mctx_, chi::DomainQuery::GetDynamic(), "x1", "size=1m"); });
  ExpectBad("unknown key", [&] { dev.Create(mctx_, chi::DomainQuery::GetDynamic(), "x2", "ram,size=1m,color=red"); });
  ExpectBad("cannot open", [&] {
    dev.Create(mctx_, chi::DomainQuery::GetDynamic(), "x3", "file=/nonexistent/dir/img,size=1m");
  });
}
}  // namespace
