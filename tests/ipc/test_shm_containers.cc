// chi::ipc::string and chi::ipc::vector: contents in shm, growth, copies,
// default allocator, out-of-memory as an exception, use from another process.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chimaera/ipc/shm_error.h"
#include "chimaera/ipc/shm_string.h"
#include "chimaera/ipc/shm_vector.h"
#include "shm_test_util.h"

namespace hipc_test {
using namespace chi::ipc;
using chi::ipc::testing::UniqueSegmentName;

class ShmContainers : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = UniqueSegmentName("cont");
    seg_ = Segment::Create({name_, 8 << 20, AllocatorId(30)});
    alloc_ = seg_->GetAllocator();
  }
  void TearDown() override {
    MemoryRegistry::SetDefault(AllocatorId());
    seg_.reset();
    Segment::Unlink(name_);
  }
  std::string name_;
  std::unique_ptr<Segment> seg_;
  Allocator alloc_;
};

TEST_F(ShmContainers, StringBasics) {
  string s(alloc_, "hello");
  EXPECT_EQ(s.size(), 5u);
  EXPECT_STREQ(s.c_str(), "hello");
  EXPECT_EQ(s, std::string_view("hello"));
  s = std::string(1000, 'x');
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(s.c_str()[1000], '\0');
  string empty(alloc_);
  EXPECT_TRUE(empty.empty());
  EXPECT_STREQ(empty.c_str(), "");
  string copy = s;
  EXPECT_EQ(copy, s);
  EXPECT_EQ(copy.GetAllocatorId(), AllocatorId(30));
  string moved = std::move(copy);
  EXPECT_EQ(moved.size(), 1000u);
}

TEST_F(ShmContainers, StringLivesInSharedMemory) {
  FullPtr<string> s = alloc_.NewObj<string>(alloc_, "shared text");
  ASSERT_FALSE(s.IsNull());
  pid_t pid = fork();
  if (pid == 0) {
    FullPtr<string> view(s.shm_);
    _exit(view->str() == "shared text" ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  alloc_.DelObj(s);
}

TEST_F(ShmContainers, DefaultAllocator) {
  string no_alloc;
  EXPECT_THROW(no_alloc = "x", ShmError);  // no default set: a clear error, not a crash
  MemoryRegistry::SetDefault(AllocatorId(30));
  string s("uses default");
  EXPECT_EQ(s.GetAllocatorId(), AllocatorId(30));
  vector<int> v;
  v.push_back(1);
  EXPECT_EQ(v.GetAllocatorId(), AllocatorId(30));
}

TEST_F(ShmContainers, VectorGrowthAndAccess) {
  vector<chi::u64> v(alloc_);
  for (chi::u64 i = 0; i < 10000; ++i) v.push_back(i * 3);
  ASSERT_EQ(v.size(), 10000u);
  for (chi::u64 i = 0; i < 10000; ++i) ASSERT_EQ(v[i], i * 3);
  EXPECT_THROW(v.at(10000), std::out_of_range);
  v.resize(10);
  EXPECT_EQ(v.size(), 10u);
  EXPECT_EQ(v.back(), 27u);
  v.clear();
  EXPECT_TRUE(v.empty());
  vector<int> init(alloc_, {1, 2, 3});
  EXPECT_EQ(init.size(), 3u);
  EXPECT_EQ(init[2], 3);
}

TEST_F(ShmContainers, VectorOfStringsCopiesDeeply) {
  vector<string> v(alloc_);
  v.emplace_back(alloc_, "a");
  v.emplace_back(alloc_, "bb");
  for (int i = 0; i < 100; ++i) v.emplace_back(alloc_, std::to_string(i));
  vector<string> copy = v;
  copy[0] = "changed";
  EXPECT_EQ(v[0], std::string_view("a"));
  EXPECT_EQ(copy[0], std::string_view("changed"));
  EXPECT_EQ(copy[101], std::string_view("99"));
}

TEST_F(ShmContainers, OutOfMemoryThrowsAndLeavesVectorIntact) {
  vector<char> v(alloc_);
  v.assign("abc", 3);
  EXPECT_THROW(v.reserve(std::size_t{1} << 40), ShmOutOfMemory);
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2], 'c');
}

TEST_F(ShmContainers, ContainersReturnMemoryToTheAllocator) {
  // Fill and destroy repeatedly: memory must be recycled, never exhausted.
  for (int round = 0; round < 200; ++round) {
    vector<string> v(alloc_);
    for (int i = 0; i < 200; ++i) v.emplace_back(alloc_, std::string(100, 'z'));
  }
  EXPECT_FALSE(alloc_.Allocate(1 << 20).IsNull());
}
}  // namespace hipc_test
