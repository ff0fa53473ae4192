#include "chimaera/ipc/segment.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "chimaera/ipc/shm_error.h"

namespace chi::ipc {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

std::size_t RoundToPage(std::size_t n) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

void CheckName(const std::string &name) {
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos || name.size() > 250)
    throw ShmError("invalid shared-memory name '" + name + "': must be '/' followed by 1-249 characters without '/'");
}

// The magic is written last by the creator (release) and read first by
// everyone else (acquire), so a reader that sees it sees a formatted header.
u64 LoadMagic(const SegmentHeader &h) {
  return std::atomic_ref<const u64>(h.magic_).load(std::memory_order_acquire);
}

}  // namespace

namespace {
// Field 3 (state) and field 22 (start time, clock ticks since boot) of
// /proc/<pid>/stat. False when the entry cannot be read or parsed.
bool ReadProcStat(int pid, char *state, u64 *start_ticks) noexcept {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  auto close = line.rfind(')');  // the command name may contain spaces and ')'
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string tok;
  // After ") ": field 3 (state) is token 0, field 22 (starttime) is token 19.
  for (int i = 0; i <= 19 && (fields >> tok); ++i) {
    if (i == 0) *state = tok.empty() ? '?' : tok[0];
    if (i == 19) {
      *start_ticks = std::strtoull(tok.c_str(), nullptr, 10);
      return true;
    }
  }
  return false;
}
bool IsZombie(char state) { return state == 'Z' || state == 'X'; }
}  // namespace

u64 ProcessStartTicks(int pid) noexcept {
  char state = 0;
  u64 ticks = 0;
  if (pid <= 0 || !ReadProcStat(pid, &state, &ticks) || IsZombie(state)) return 0;
  return ticks;
}

ProcessState QueryProcess(int pid, u64 start_ticks) noexcept {
  if (pid <= 0) return ProcessState::kGone;
  if (kill(pid, 0) != 0 && errno == ESRCH) return ProcessState::kGone;
  char state = 0;
  u64 ticks = 0;
  if (!ReadProcStat(pid, &state, &ticks)) return ProcessState::kUnknown;
  if (IsZombie(state)) return ProcessState::kGone;
  return start_ticks != 0 && ticks != start_ticks ? ProcessState::kGone : ProcessState::kAlive;
}

std::string Segment::MakeName(std::string_view instance) {
  std::string user;
  passwd pw{};
  passwd *res = nullptr;
  char buf[1024];
  if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res != nullptr) user = res->pw_name;
  if (user.empty()) user = std::to_string(getuid());
  std::string name = "/chimaera_" + user + "_" + std::string(instance);
  for (std::size_t i = 1; i < name.size(); ++i) {
    char c = name[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) name[i] = '_';
  }
  return name;
}

OwnerState Segment::QueryOwner(const std::string &name) {
  CheckName(name);
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return errno == ENOENT ? OwnerState::kAbsent : OwnerState::kDead;
  struct stat st {};
  OwnerState state = OwnerState::kDead;  // unreadable or half-written: reclaimable
  if (fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= sizeof(SegmentHeader)) {
    void *p = mmap(nullptr, sizeof(SegmentHeader), PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      const auto &h = *static_cast<const SegmentHeader *>(p);
      // Only a positively gone owner makes the segment reclaimable: an
      // unreadable /proc must never let us unlink a live runtime's segment.
      if (LoadMagic(h) == kSegmentMagic &&
          QueryProcess(static_cast<int>(h.owner_pid_), h.owner_start_ticks_) != ProcessState::kGone) {
        state = OwnerState::kAlive;
      }
      munmap(p, sizeof(SegmentHeader));
    }
  }
  close(fd);
  return state;
}

bool Segment::Unlink(const std::string &name) noexcept { return shm_unlink(name.c_str()) == 0; }

std::unique_ptr<Segment> Segment::Create(const SegmentOptions &opts) {
  CheckName(opts.name);
  if (opts.size < kMinSegmentBytes)
    throw ShmError("segment '" + opts.name + "': size " + std::to_string(opts.size) + " bytes is below the minimum " +
                   std::to_string(kMinSegmentBytes));
  if (opts.alloc_id.IsNull() || opts.alloc_id.id_ >= kMaxAllocators)
    throw ShmError("segment '" + opts.name + "': allocator id must be in [1, " + std::to_string(kMaxAllocators) + ")");
  if (MemoryRegistry::Base(opts.alloc_id) != nullptr)
    throw ShmError("segment '" + opts.name + "': allocator id " + std::to_string(opts.alloc_id.id_) +
                   " is already mapped in this process");
  const std::size_t size = RoundToPage(opts.size);

  int fd = -1;
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    fd = shm_open(opts.name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd >= 0) break;
    if (errno != EEXIST) throw ShmError("cannot create shared memory '" + opts.name + "': " + ErrnoText(errno));
    if (QueryOwner(opts.name) == OwnerState::kAlive) {
      throw ShmError("shared memory '" + opts.name +
                     "' belongs to a live process: another Chimaera runtime is running with this instance id");
    }
    shm_unlink(opts.name.c_str());  // reclaim a dead owner's segment, then retry once
  }
  if (fd < 0) throw ShmError("cannot create shared memory '" + opts.name + "': it keeps reappearing");
  fchmod(fd, 0600);  // independent of the umask
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    close(fd);
    shm_unlink(opts.name.c_str());
    throw ShmError("cannot size shared memory '" + opts.name + "' to " + std::to_string(size) + " bytes: " +
                   ErrnoText(err));
  }
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) {
    shm_unlink(opts.name.c_str());
    throw ShmError("cannot map shared memory '" + opts.name + "': " + ErrnoText(err));
  }
  char *base = static_cast<char *>(p);
  auto *hdr = new (base) SegmentHeader();
  hdr->layout_version_ = kShmLayoutVersion;
  hdr->owner_pid_ = static_cast<u32>(getpid());
  hdr->owner_start_ticks_ = ProcessStartTicks(getpid());
  hdr->size_ = size;
  hdr->alloc_id_ = opts.alloc_id;
  hdr->root_offset_.store(0, std::memory_order_relaxed);
  Allocator alloc = Allocator::Format(opts.alloc_id, base, kSegmentHeaderBytes, size);
  std::atomic_ref<u64>(hdr->magic_).store(kSegmentMagic, std::memory_order_release);
  MemoryRegistry::Register(opts.alloc_id, base, size);
  return std::unique_ptr<Segment>(new Segment(opts.name, base, size, true, alloc));
}

std::unique_ptr<Segment> Segment::Attach(const std::string &name) {
  CheckName(name);
  int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    if (errno == ENOENT)
      throw ShmError("no shared memory '" + name + "': is the Chimaera runtime running for this user and instance?");
    throw ShmError("cannot open shared memory '" + name + "': " + ErrnoText(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < kMinSegmentBytes) {
    close(fd);
    throw ShmError("shared memory '" + name + "' is too small to be a Chimaera segment");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) throw ShmError("cannot map shared memory '" + name + "': " + ErrnoText(err));
  char *base = static_cast<char *>(p);
  const auto &hdr = *reinterpret_cast<SegmentHeader *>(base);
  std::string problem;
  if (LoadMagic(hdr) != kSegmentMagic) {
    problem = "is not a Chimaera segment (or is still being created)";
  } else if (hdr.layout_version_ != kShmLayoutVersion) {
    problem = "has layout version " + std::to_string(hdr.layout_version_) + ", this library expects " +
              std::to_string(kShmLayoutVersion) + " (runtime and client built from different versions)";
  } else if (hdr.size_ != size) {
    problem = "is truncated";
  }
  Allocator alloc = problem.empty() ? Allocator::Open(base, kSegmentHeaderBytes) : Allocator();
  if (problem.empty() && alloc.IsNull()) problem = "has a corrupt allocator header";
  if (problem.empty() && !MemoryRegistry::Register(hdr.alloc_id_, base, size))
    problem = "uses allocator id " + std::to_string(hdr.alloc_id_.id_) + ", already mapped in this process";
  if (!problem.empty()) {
    munmap(p, size);
    throw ShmError("shared memory '" + name + "' " + problem);
  }
  return std::unique_ptr<Segment>(new Segment(name, base, size, false, alloc));
}

Segment::Segment(std::string name, char *base, std::size_t size, bool owner, Allocator alloc)
    : name_(std::move(name)), base_(base), size_(size), owner_(owner), alloc_(alloc) {}

Segment::~Segment() { Detach(); }

void Segment::Detach() noexcept {
  if (base_ == nullptr) return;
  if (MemoryRegistry::Base(alloc_.Id()) == base_) MemoryRegistry::Unregister(alloc_.Id());
  munmap(base_, size_);
  base_ = nullptr;
  alloc_ = Allocator();
}

Allocator Allocator::FromId(AllocatorId id) noexcept {
  char *base = MemoryRegistry::Base(id);
  return base == nullptr ? Allocator() : Open(base, kSegmentHeaderBytes);
}

}  // namespace chi::ipc
