// chimaera_runtime: the runtime daemon (DESIGN.md §3, §8, §9).
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "chimaera/runtime/log.h"
#include "chimaera/runtime/runtime.h"

namespace {
const char *kUsage =
    "usage: chimaera_runtime [--config FILE]\n"
    "\n"
    "Start the Chimaera runtime in the foreground. It serves until SIGINT,\n"
    "SIGTERM or an admin StopRuntime task, then fails in-flight tasks,\n"
    "unlinks its shared memory and exits 0.\n"
    "\n"
    "  --config FILE  YAML configuration (default: $CHI_SERVER_CONF, else built-in defaults)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Keys (all optional): workers, lanes_per_queue, queue_depth, shm_size (e.g. 256m),\n"
    "port (also names the shm segment), module_path, log_level, and networking:\n"
    "(hostfile or hosts, node_id, rpc_timeout, heartbeat_interval, peer_dead_after,\n"
    "max_frame_size) for a node of a cluster.\n"
    "\n"
    "Exit codes: 0 stopped cleanly; 1 could not start (e.g. a live runtime owns the\n"
    "segment, the address is in use); 2 usage or configuration error.\n"
    "Modules are searched in module_path, $CHI_REPO_PATH, $LD_LIBRARY_PATH and beside\n"
    "libchimaera_runtime.so.\n";
}  // namespace

int main(int argc, char **argv) {
  const char *config_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc) {
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "chimaera_runtime: unknown argument '%s'\n\n%s", argv[i], kUsage);
    return 2;
  }
  // ZeroMQ mallocs every message it sends or receives; a node moving 1 MiB
  // bulk frames would otherwise mmap and munmap (or trim the heap and fault
  // the pages back in) for each one: glibc's defaults return freed memory
  // above 128 KiB to the kernel. Keep it instead: blocks up to 32 MiB (the
  // most mallopt allows) come from the heap, and up to 64 MiB of free heap
  // stays mapped (bounded: what a node keeps after a burst). Measured: remote
  // 1 MiB writes 1.74-2.30 -> 2.52-2.94 GB/s (benchmarks/README.md).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Block SIGINT/SIGTERM in every thread (workers inherit the mask); the main
  // thread takes them synchronously in Runtime::WaitForStop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  chi::ServerConfig config;
  try {
    config = config_path ? chi::ServerConfig::FromYamlFile(config_path) : chi::ServerConfig::Load();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_runtime: configuration error: %s\n", e.what());
    return 2;
  }
  chi::Runtime *rt = CHI_RUNTIME;
  try {
    rt->Start(config);
  } catch (const chi::ConfigError &e) {  // a bad hostfile, this node not in it
    std::fprintf(stderr, "chimaera_runtime: configuration error: %s\n", e.what());
    rt->Stop();
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "chimaera_runtime: cannot start: %s\n", e.what());
    rt->Stop();
    return 1;
  }
  rt->WaitForStop(true);
  rt->Stop();
  return 0;
}
