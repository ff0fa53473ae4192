// compressor ChiMod through a real runtime: zstd and zlib round trips of
// empty, small and MB-sized buffers with checksums, many tasks in flight over
// several lanes, and the error paths (corrupt input, small output buffer,
// unknown codec, bad pool arguments) - the runtime keeps serving after each.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "compressor/compressor_client.h"
#include "runtime_process.h"

namespace {
using chi::testing::ExitedWith;
using chi::testing::RuntimeProcess;
using namespace chimaera::compressor;

class Compressor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rt_.Start()) << rt_.Log();
    client_.Create(mctx_, chi::DomainQuery::GetDynamic(), "zip", "lanes=4");
  }
  void TearDown() override { EXPECT_TRUE(ExitedWith(rt_.Stop(), 0)) << rt_.Log(); }
  chi::ipc::Pointer Buffer(const std::string &bytes) {
    chi::ipc::Pointer p = CHI_IPC_MANAGER->GetAllocator().Allocate(bytes.size());
    if (!bytes.empty()) std::memcpy(CHI_IPC_MANAGER->GetAllocator().Convert(p), bytes.data(), bytes.size());
    return p;
  }
  std::string Read(chi::ipc::Pointer p, chi::u64 n) {
    return std::string(CHI_IPC_MANAGER->GetAllocator().Convert<char>(p), n);
  }
  void Free(chi::ipc::Pointer p) { CHI_IPC_MANAGER->GetAllocator().Free(p); }
  /** Compress then decompress `data`; returns the restored bytes. */
  std::string RoundTrip(Codec codec, int level, const std::string &data, chi::u32 hash = 0) {
    auto dq = chi::DomainQuery::GetLocalHash(hash);
    chi::ipc::Pointer in = Buffer(data);
    chi::u64 cap = CompressBound(codec, data.size());
    chi::ipc::Pointer packed = Buffer(std::string(cap, '\0'));
    CodecResult c = client_.Compress(mctx_, dq, codec, level, in, data.size(), packed, cap);
    EXPECT_LE(c.out_size, cap);
    chi::ipc::Pointer restored = Buffer(std::string(data.size(), '\0'));
    CodecResult d = client_.Decompress(mctx_, dq, codec, packed, c.out_size, restored, data.size());
    EXPECT_EQ(d.out_size, data.size());
    EXPECT_EQ(c.checksum, d.checksum);  // CRC-32 of the original and the restored bytes
    std::string out = Read(restored, d.out_size);
    Free(in);
    Free(packed);
    Free(restored);
    return out;
  }
  RuntimeProcess rt_{"workers: 2\n"};
  chi::ipc::MemContext mctx_;
  Client client_;
};

std::string Corpus(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s;
  const char *words[] = {"chimaera ", "task ", "runtime ", "shared ", "memory ", "lane "};
  while (s.size() < n) s += (rng() % 4 == 0) ? std::string(1, static_cast<char>(rng())) : words[rng() % 6];
  s.resize(n);
  return s;
}

TEST_F(Compressor, ZstdAndZlibRoundTripsVerifiedByChecksum) {
  for (Codec codec : {Codec::kZstd, Codec::kZlib}) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{1} << 20}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(codec)) + "/" + std::to_string(n));
      std::string data = Corpus(n, static_cast<unsigned>(n));
      EXPECT_EQ(RoundTrip(codec, codec == Codec::kZstd ? 3 : 6, data), data);
    }
  }
}

TEST_F(Compressor, ActuallyCompresses) {
  std::string data = Corpus(1 << 20, 7);
  chi::ipc::Pointer in = Buffer(data);
  chi::u64 cap = CompressBound(Codec::kZstd, data.size());
  chi::ipc::Pointer out = Buffer(std::string(cap, '\0'));
  CodecResult r = client_.Compress(mctx_, chi::DomainQuery::GetLocalHash(0), Codec::kZstd, 3, in, data.size(), out, cap);
  EXPECT_LT(r.out_size, data.size() / 2);
  Free(in);
  Free(out);
}

TEST_F(Compressor, ManyTasksInFlightOverLanes) {
  std::vector<std::string> inputs;
  std::vector<chi::ipc::FullPtr<CompressTask>> tasks;
  std::vector<chi::ipc::Pointer> bufs;
  for (int i = 0; i < 200; ++i) {
    inputs.push_back(Corpus(4096 + i * 37, i));
    chi::ipc::Pointer in = Buffer(inputs.back());
    chi::u64 cap = CompressBound(Codec::kZstd, inputs.back().size());
    chi::ipc::Pointer out = Buffer(std::string(cap, '\0'));
    bufs.push_back(in);
    bufs.push_back(out);
    tasks.push_back(client_.AsyncCompress(mctx_, chi::DomainQuery::GetLocalHash(i), Codec::kZstd, 1, in,
                                          inputs.back().size(), out, cap));
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    tasks[i]->Wait();
    ASSERT_FALSE(tasks[i]->HasError()) << tasks[i]->error_.str();
    ASSERT_GT(tasks[i]->out_size_, 0u);
    CHI_IPC_MANAGER->DelTask(tasks[i]);
  }
  for (auto p : bufs) Free(p);
}

TEST_F(Compressor, ErrorsAreReturnedNotCrashes) {
  auto dq = chi::DomainQuery::GetLocalHash(0);
  std::string junk = Corpus(1000, 3);
  chi::ipc::Pointer in = Buffer(junk), out = Buffer(std::string(5000, '\0'));
  for (Codec codec : {Codec::kZstd, Codec::kZlib}) {
    try {
      client_.Decompress(mctx_, dq, codec, in, junk.size(), out, 5000);
      ADD_FAILURE() << "corrupt input must fail";
    } catch (const chi::TaskError &e) {
      EXPECT_EQ(e.Code(), chi::kTaskBadArgument);
      EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    }
  }
  // Output buffer too small for the compressed data.
  EXPECT_THROW(client_.Compress(mctx_, dq, Codec::kZlib, 6, in, junk.size(), out, 8), chi::TaskError);
  // Unknown codec.
  EXPECT_THROW(client_.Compress(mctx_, dq, static_cast<Codec>(99), 1, in, junk.size(), out, 5000), chi::TaskError);
  // Bad pool arguments.
  Client other;
  EXPECT_THROW(other.Create(mctx_, chi::DomainQuery::GetDynamic(), "z2", "lanes=0"), chi::TaskError);
  EXPECT_THROW(other.Create(mctx_, chi::DomainQuery::GetDynamic(), "z3", "bogus"), chi::TaskError);
  // Still serving.
  EXPECT_EQ(RoundTrip(Codec::kZstd, 3, junk), junk);
  Free(in);
  Free(out);
}
}  // namespace
