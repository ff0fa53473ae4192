// Segment lifecycle: create/attach/detach/unlink, mode 0600, header, ownership
// (refuse a live owner's name, reclaim a dead owner's), clear attach errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chimaera/ipc/shm_error.h"
#include "shm_test_util.h"

namespace hipc_test {
using namespace chi::ipc;
using chi::ipc::testing::UniqueSegmentName;
using chi::ipc::testing::UnlinkGuard;

TEST(Segment, NameHasUserAndInstance) {
  std::string n = Segment::MakeName("9413");
  EXPECT_EQ(n.rfind("/chimaera_", 0), 0u);
  EXPECT_NE(n.find("_9413"), std::string::npos);
  EXPECT_EQ(Segment::MakeName("a/b c").find('/', 1), std::string::npos);
}

TEST(Segment, CreateAttachDetachUnlink) {
  std::string name = UniqueSegmentName("lifecycle");
  UnlinkGuard guard{name};
  auto seg = Segment::Create({name, 1 << 20, AllocatorId(5)});
  EXPECT_TRUE(seg->IsOwner());
  EXPECT_EQ(seg->Header().owner_pid_, static_cast<chi::u32>(getpid()));
  EXPECT_EQ(seg->Header().layout_version_, kShmLayoutVersion);
  EXPECT_EQ(seg->Size(), 1u << 20);

  // File mode is 0600 whatever the umask.
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  close(fd);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Pointer p = seg->GetAllocator().Allocate(100);
  ASSERT_FALSE(p.IsNull());
  *seg->GetAllocator().Convert<int>(p) = 1234;
  seg->SetRoot(p);

  // Attach from a child process (a real second mapping at another address).
  pid_t child = fork();
  if (child == 0) {
    seg->Detach();  // drop the inherited mapping + registry entry
    try {
      auto att = Segment::Attach(name);
      Pointer root = att->GetRoot();
      FullPtr<int> v(root);
      _exit(!v.IsNull() && *v == 1234 && !att->IsOwner() ? 0 : 1);
    } catch (...) {
      _exit(2);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  seg->Detach();
  seg->Detach();  // idempotent
  EXPECT_TRUE(Segment::Unlink(name));
  EXPECT_FALSE(Segment::Unlink(name));
  EXPECT_EQ(Segment::QueryOwner(name), OwnerState::kAbsent);
}

TEST(Segment, AttachToMissingSegmentNamesIt) {
  std::string name = UniqueSegmentName("missing");
  try {
    Segment::Attach(name);
    FAIL() << "attach should throw";
  } catch (const ShmError &e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("running"), std::string::npos) << e.what();
  }
}

TEST(Segment, AttachRejectsForeignSegment) {
  std::string name = UniqueSegmentName("foreign");
  UnlinkGuard guard{name};
  int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
  close(fd);
  EXPECT_THROW(Segment::Attach(name), ShmError);
  // A foreign/garbage file is not "alive": Create reclaims it.
  EXPECT_EQ(Segment::QueryOwner(name), OwnerState::kDead);
  auto seg = Segment::Create({name, 1 << 20, AllocatorId(6)});
  EXPECT_TRUE(seg->IsOwner());
}

TEST(Segment, RefusesLiveOwnerReclaimsDeadOwner) {
  std::string name = UniqueSegmentName("owner");
  UnlinkGuard guard{name};
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t child = fork();
  if (child == 0) {
    alarm(30);
    auto seg = Segment::Create({name, 1 << 20, AllocatorId(8)});
    char c = 'r';
    (void)!write(ready[1], &c, 1);
    (void)!read(done[0], &c, 1);  // stay alive until told
    _exit(0);                     // exits WITHOUT unlinking: leaves a dead owner's segment
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  EXPECT_EQ(Segment::QueryOwner(name), OwnerState::kAlive);
  try {
    Segment::Create({name, 1 << 20, AllocatorId(9)});
    FAIL() << "must refuse a live owner's segment";
  } catch (const ShmError &e) {
    EXPECT_NE(std::string(e.what()).find("live"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Segment::QueryOwner(name), OwnerState::kAlive);  // untouched
  (void)!write(done[1], &c, 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(Segment::QueryOwner(name), OwnerState::kDead);
  auto seg = Segment::Create({name, 1 << 20, AllocatorId(9)});
  EXPECT_EQ(seg->Header().owner_pid_, static_cast<chi::u32>(getpid()));
}

TEST(Segment, ZombieOwnerCountsAsDead) {
  std::string name = UniqueSegmentName("zombie");
  UnlinkGuard guard{name};
  pid_t child = fork();
  if (child == 0) {
    auto seg = Segment::Create({name, 1 << 20, AllocatorId(10)});
    _exit(0);
  }
  // Wait for the child to exit but do not reap it yet: it is a zombie.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(Segment::QueryOwner(name), OwnerState::kDead);
  waitpid(child, nullptr, 0);
}

TEST(Segment, RejectsBadArguments) {
  EXPECT_THROW(Segment::Create({"no-slash", 1 << 20, AllocatorId(11)}), ShmError);
  EXPECT_THROW(Segment::Create({UniqueSegmentName("small"), 1024, AllocatorId(11)}), ShmError);
  EXPECT_THROW(Segment::Create({UniqueSegmentName("id"), 1 << 20, AllocatorId(0)}), ShmError);
  std::string name = UniqueSegmentName("dupid");
  UnlinkGuard guard{name};
  auto seg = Segment::Create({name, 1 << 20, AllocatorId(12)});
  std::string name2 = UniqueSegmentName("dupid2");
  EXPECT_THROW(Segment::Create({name2, 1 << 20, AllocatorId(12)}), ShmError);
  EXPECT_EQ(Segment::QueryOwner(name2), OwnerState::kAbsent);
}
}  // namespace hipc_test
