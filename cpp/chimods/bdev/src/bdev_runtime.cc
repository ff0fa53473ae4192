// Runtime of the bdev module: a file (pread/pwrite + fdatasync) or a RAM
// buffer, with a block bitmap for Allocate/Free. Tasks of one pool may run on
// several workers (several lanes), so the bitmap is guarded by a mutex; data
// I/O on disjoint ranges needs no lock.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "bdev/bdev_tasks.h"
#include "chimaera/client/ipc_manager.h"
#include "chimaera/runtime/module_api.h"
#include "chimaera/runtime/runtime.h"

namespace chimaera::bdev {
namespace {
chi::u64 ParseBytes(const std::string &v) {
  std::size_t pos = 0;
  unsigned long long n = std::stoull(v, &pos);
  std::string unit = v.substr(pos);
  if (unit.empty()) return n;
  if (unit == "k" || unit == "K") return n << 10;
  if (unit == "m" || unit == "M") return n << 20;
  if (unit == "g" || unit == "G") return n << 30;
  throw std::invalid_argument("unknown size unit '" + unit + "'");
}
}  // namespace

class Runtime : public chi::Container {
 public:
#include "bdev_lib_exec.h"

  ~Runtime() override {
    if (fd_ >= 0) close(fd_);
  }

  void Create(chi::ipc::FullPtr<CreateTask> task, chi::RunContext &) {
    std::string path;
    bool ram = false;
    try {
      std::stringstream ss(task->args_.str());
      for (std::string item; std::getline(ss, item, ',');) {
        auto eq = item.find('=');
        std::string key = item.substr(0, eq), val = eq == std::string::npos ? "" : item.substr(eq + 1);
        if (key == "file") path = val;
        else if (key == "ram") ram = true;
        else if (key == "size") capacity_ = ParseBytes(val);
        else if (key == "block") block_ = ParseBytes(val);
        else throw std::invalid_argument("unknown key '" + key + "'");
      }
    } catch (const std::exception &e) {
      return task->SetError(chi::kTaskBadArgument, std::string("bdev args '") + task->args_.str() + "': " + e.what() +
                                                       " (expected file=PATH,size=N[,block=N] or ram,size=N)");
    }
    if (ram == !path.empty() || capacity_ == 0 || block_ == 0 || capacity_ % block_ != 0)
      return task->SetError(chi::kTaskBadArgument, "bdev args '" + task->args_.str() +
                                                       "': need exactly one of file=PATH / ram, and size a "
                                                       "non-zero multiple of block (default 4096)");
    if (ram) {
      ram_.assign(capacity_, 0);
    } else {
      fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(capacity_)) != 0)
        return task->SetError(chi::kTaskBadArgument, "bdev: cannot open/size '" + path + "': " + std::strerror(errno));
    }
    used_.assign(capacity_ / block_, false);
    CreateLocalQueue(0, CHI_RUNTIME->Config().lanes_per_queue);
  }
  void MonitorCreate(chi::MonitorModeId, chi::ipc::FullPtr<CreateTask>, chi::RunContext &) {}
  void Destroy(chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {
    if (fd_ >= 0) fsync(fd_);
  }
  void MonitorDestroy(chi::MonitorModeId, chi::ipc::FullPtr<DestroyTask>, chi::RunContext &) {}

  void Allocate(chi::ipc::FullPtr<AllocateTask> task, chi::RunContext &) {
    const chi::u64 blocks = (task->size_ + block_ - 1) / block_;
    if (blocks == 0) return task->SetError(chi::kTaskBadArgument, "bdev: cannot allocate 0 bytes");
    std::lock_guard<std::mutex> lock(mu_);
    for (chi::u64 start = 0, run = 0; start + run < used_.size();) {  // first fit
      if (used_[start + run]) {
        start += run + 1;
        run = 0;
      } else if (++run == blocks) {
        for (chi::u64 b = start; b < start + blocks; ++b) used_[b] = true;
        task->offset_ = start * block_;
        return;
      }
    }
    task->SetError(chi::kTaskBadArgument, "bdev: no " + std::to_string(blocks) + " contiguous free blocks");
  }
  void Free(chi::ipc::FullPtr<FreeTask> task, chi::RunContext &) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string err = CheckRange(task->offset_, task->size_, true);
    if (!err.empty()) return task->SetError(chi::kTaskBadArgument, err);
    for (chi::u64 b = task->offset_ / block_; b < (task->offset_ + task->size_ + block_ - 1) / block_; ++b)
      used_[b] = false;
  }
  void Write(chi::ipc::FullPtr<WriteTask> task, chi::RunContext &) {
    const char *src = chi::ipc::FullPtr<char>(task->data_).ptr_;
    const chi::u64 size = task->data_size_;
    if (std::string err = CheckedRange(task->offset_, size); !err.empty())
      return task->SetError(chi::kTaskBadArgument, err);
    if (src == nullptr && size) return task->SetError(chi::kTaskBadArgument, "bdev: data is not in shared memory");
    if (fd_ < 0) {
      std::memcpy(ram_.data() + task->offset_, src, size);
    } else if (!PwriteAll(src, size, task->offset_) || fdatasync(fd_) != 0) {
      return task->SetError(chi::kTaskBadArgument, std::string("bdev: write failed: ") + std::strerror(errno));
    }
  }
  /** Reads data_capacity_ bytes (the caller's buffer) straight into data_. */
  void Read(chi::ipc::FullPtr<ReadTask> task, chi::RunContext &) {
    char *dst = chi::ipc::FullPtr<char>(task->data_).ptr_;
    const chi::u64 size = task->data_capacity_;
    if (std::string err = CheckedRange(task->offset_, size); !err.empty())
      return task->SetError(chi::kTaskBadArgument, err);
    if (dst == nullptr && size) return task->SetError(chi::kTaskBadArgument, "bdev: buffer is not in shared memory");
    if (fd_ < 0) {
      std::memcpy(dst, ram_.data() + task->offset_, size);
    } else if (!PreadAll(dst, size, task->offset_)) {
      return task->SetError(chi::kTaskBadArgument, std::string("bdev: read failed: ") + std::strerror(errno));
    }
    task->data_size_ = size;
  }
  void MonitorAllocate(chi::MonitorModeId m, chi::ipc::FullPtr<AllocateTask> t, chi::RunContext &r) { Route(m, *t, r, 0); }
  void MonitorFree(chi::MonitorModeId m, chi::ipc::FullPtr<FreeTask> t, chi::RunContext &r) { Route(m, *t, r, 0); }
  void MonitorWrite(chi::MonitorModeId m, chi::ipc::FullPtr<WriteTask> t, chi::RunContext &r) { Route(m, *t, r, t->data_size_); }
  void MonitorRead(chi::MonitorModeId m, chi::ipc::FullPtr<ReadTask> t, chi::RunContext &r) { Route(m, *t, r, t->data_capacity_); }

 private:
  void Route(chi::MonitorModeId mode, chi::Task &task, chi::RunContext &rctx, chi::u64 bytes) {
    switch (mode) {
      case chi::MonitorModeId::kLocalSchedule: rctx.route_lane_ = GetLaneByHash(0, task.dom_query_.GetSelector()); break;
      case chi::MonitorModeId::kGlobalSchedule:
        // Each container is a device of its own: a dynamic task goes to this
        // node's (lane 0), else always to container 0's, never spread over
        // devices like a stateless module's. (The clients' default is not
        // dynamic but this node's container: default_query: local.)
        if (task.dom_query_.IsDynamic())
          task.dom_query_ = HasLocalContainer() ? chi::DomainQuery::GetLocalHash(0) : chi::DomainQuery::GetDirectHash(0);
        break;
      case chi::MonitorModeId::kEstLoad: rctx.load_.cpu_us_ = 10 + bytes / 500; break;  // ~500 MB/s
    }
  }
  /** Empty when [off, off+size) is inside the device and (if `allocated`)
   * every block of it is allocated; else the error message. Needs mu_. */
  std::string CheckRange(chi::u64 off, chi::u64 size, bool allocated) const {
    if (size == 0 || off > capacity_ || size > capacity_ - off)
      return "bdev: range [" + std::to_string(off) + ", +" + std::to_string(size) + ") is outside the " +
             std::to_string(capacity_) + "-byte device";
    if (allocated)
      for (chi::u64 b = off / block_; b < (off + size + block_ - 1) / block_; ++b)
        if (!used_[b]) return "bdev: block " + std::to_string(b) + " of range at " + std::to_string(off) + " is not allocated";
    return {};
  }
  std::string CheckedRange(chi::u64 off, chi::u64 size) {
    std::lock_guard<std::mutex> lock(mu_);
    return CheckRange(off, size, true);
  }
  bool PwriteAll(const char *p, chi::u64 n, chi::u64 off) {
    while (n > 0) {
      ssize_t w = pwrite(fd_, p, n, static_cast<off_t>(off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w, n -= static_cast<chi::u64>(w), off += static_cast<chi::u64>(w);
    }
    return true;
  }
  bool PreadAll(char *p, chi::u64 n, chi::u64 off) {
    while (n > 0) {
      ssize_t r = pread(fd_, p, n, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r, n -= static_cast<chi::u64>(r), off += static_cast<chi::u64>(r);
    }
    return true;
  }

  chi::u64 capacity_ = 0;
  chi::u64 block_ = 4096;
  int fd_ = -1;
  std::vector<char> ram_;
  std::mutex mu_;
  std::vector<bool> used_;
};

}  // namespace chimaera::bdev

CHI_TASK_CC(chimaera::bdev::Runtime, "bdev");
