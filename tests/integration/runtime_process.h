#pragma once
// RuntimeProcess: starts the real chimaera_runtime executable as a separate
// process for a test (fork + exec), with its own port (and so its own shm
// segment), the test modules on CHI_REPO_PATH, and optional YAML config.
// The test process itself is the client (CHI_IPC_MANAGER). A node of a
// cluster also has a host (its node-table entry), which names its segment.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "chimaera/client/ipc_manager.h"
#include "chimaera/ipc/segment.h"

namespace chi::testing {

inline u16 UniquePort() {
  static int counter = 0;
  return static_cast<u16>(30000 + (getpid() * 13 + counter++ * 101) % 30000);
}

class RuntimeProcess {
 public:
  explicit RuntimeProcess(std::string yaml = "", u16 port = UniquePort(), std::string host = "")
      : port_(port), host_(std::move(host)), yaml_(std::move(yaml)) {
    log_path_ = "/tmp/chi_rt_" + std::to_string(getpid()) + "_" + std::to_string(port_) + host_ + ".log";
  }
  ~RuntimeProcess() {
    if (pid_ > 0) {
      DetachIfOurs();
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    ipc::Segment::Unlink(SegmentName());
    unlink(log_path_.c_str());
    if (!conf_path_.empty()) unlink(conf_path_.c_str());
  }

  /** Fork + exec the daemon (does not wait for readiness). */
  void Launch() {
    if (!yaml_.empty()) {
      conf_path_ = log_path_ + ".yaml";
      std::ofstream(conf_path_) << yaml_;
    }
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      dup2(fd, 1);
      setenv("CHI_PORT", std::to_string(port_).c_str(), 1);
      setenv("CHI_REPO_PATH", CHI_TEST_MODULE_DIR, 1);
      if (!conf_path_.empty()) setenv("CHI_SERVER_CONF", conf_path_.c_str(), 1);
      else unsetenv("CHI_SERVER_CONF");
      execl(CHI_RUNTIME_EXE, "chimaera_runtime", static_cast<char *>(nullptr));
      _exit(127);
    }
  }
  /** Launch and connect this process as a client; false on timeout/exit. */
  bool Start(int timeout_ms = 10000) {
    Launch();
    return Connect(timeout_ms);
  }
  bool Connect(int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        CHI_IPC_MANAGER->ClientInit(port_, host_);
        return true;
      } catch (const RuntimeUnavailable &) {
      }
      if (HasExited()) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // fine: launch time is benchmarked
    }
    return false;
  }
  /** Send `sig` and wait up to `timeout_ms` for exit; returns the raw wait
   * status, or -1 on timeout (then SIGKILLs it). */
  int Stop(int sig = SIGTERM, int timeout_ms = 10000) {
    DetachIfOurs();
    if (pid_ <= 0) return exit_status_;
    if (sig) kill(pid_, sig);
    return WaitExit(timeout_ms);
  }
  int WaitExit(int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (HasExited()) return exit_status_;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }
  bool HasExited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return true;
    }
    return false;
  }
  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string SegmentName() const { return ipc::Segment::MakeName(RuntimeInstance(port_, host_)); }
  /** The client of this process forgets this runtime (if attached to it). */
  void DetachIfOurs() {
    if (CHI_IPC_MANAGER->IsInitialized() && CHI_IPC_MANAGER->SegmentName() == SegmentName())
      CHI_IPC_MANAGER->Finalize();
  }
  const std::string &Host() const { return host_; }
  bool SegmentExists() const { return ipc::Segment::QueryOwner(SegmentName()) != ipc::OwnerState::kAbsent; }
  pid_t Pid() const { return pid_; }
  u16 Port() const { return port_; }

 private:
  u16 port_;
  std::string host_;
  std::string yaml_;
  std::string log_path_, conf_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

inline bool ExitedWith(int status, int code) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == code; }

/** Wait (up to 5 s) until every worker of the connected runtime is parked on
 * its doorbell, so it holds no lane (TaskQueue file comment) and the next
 * task takes the cold path (futex wake-up). False on timeout. */
inline bool WaitUntilWorkersPark() {
  RuntimeShared &shared = CHI_IPC_MANAGER->Shared();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    bool all = true;
    for (u32 w = 0; w < shared.num_workers_; ++w) all &= CHI_IPC_MANAGER->Workers()[w].doorbell_.Waiters() > 0;
    if (all) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace chi::testing
