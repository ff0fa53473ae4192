// chimaera_ping: a small C++ client of a running runtime. Creates a
// small_message pool, sends empty tasks synchronously and asynchronously,
// prints round-trip and throughput figures, and optionally stops the runtime.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <unistd.h>

#include "admin/admin_client.h"
#include "small_message/small_message_client.h"

namespace {
const char *kUsage =
    "usage: chimaera_ping [--port N] [--tasks N] [--stop]\n"
    "Send empty tasks to the runtime on port N (default $CHI_PORT or 9413) and\n"
    "report the sync round trip (median, p99) and async throughput.\n"
    "  --tasks N  tasks per phase (default 100000)\n"
    "  --stop     stop the runtime afterwards (admin StopRuntime)\n";
using Clock = std::chrono::steady_clock;
}  // namespace

int main(int argc, char **argv) {
  chi::u16 port = 0;
  long tasks = 100000;
  bool stop = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--port") && i + 1 < argc) port = static_cast<chi::u16>(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--tasks") && i + 1 < argc) tasks = std::atol(argv[++i]);
    else if (!std::strcmp(argv[i], "--stop")) stop = true;
    else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) { std::fputs(kUsage, stdout); return 0; }
    else { std::fprintf(stderr, "chimaera_ping: unknown argument '%s'\n%s", argv[i], kUsage); return 2; }
  }
  if (tasks <= 0) {
    std::fprintf(stderr, "chimaera_ping: --tasks must be positive\n");
    return 2;
  }
  try {
    CHI_IPC_MANAGER->ClientInitWait(port, 5000);  // a runtime still starting is retried for 5 s
    const chi::ipc::MemContext mctx;
    chimaera::small_message::Client sm;
    sm.Create(mctx, chi::DomainQuery::GetDynamic(), "ping_" + std::to_string(getpid()));

    std::vector<double> us;
    us.reserve(tasks);
    for (long i = 0; i < tasks; ++i) {
      auto t0 = Clock::now();
      sm.Md(mctx, chi::DomainQuery::GetLocalHash(0));
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("sync round trip : %ld tasks, median %.2f us, p99 %.2f us\n", tasks, us[us.size() / 2],
                us[us.size() * 99 / 100]);

    auto t0 = Clock::now();
    std::vector<chi::ipc::FullPtr<chimaera::small_message::MdTask>> window;
    for (long i = 0; i < tasks; ++i) {
      window.push_back(sm.AsyncMd(mctx, chi::DomainQuery::GetLocalHash(0)));
      if (window.size() == 256 || i == tasks - 1) {
        for (auto &t : window) {
          t->Wait();
          t->ThrowIfError();
          CHI_IPC_MANAGER->DelTask(t);
        }
        window.clear();
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("async throughput: %ld tasks, %.0f tasks/s (256 in flight)\n", tasks, tasks / s);
    sm.Destroy(mctx, chi::DomainQuery::GetDynamic());
    if (stop) {
      chimaera::admin::Client().StopRuntime(mctx, chi::DomainQuery::GetDynamic());
      std::printf("runtime asked to stop\n");
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_ping: %s\n", e.what());
    return 1;
  }
  return 0;
}
