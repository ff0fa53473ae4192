// Allocator alloc+free throughput, single- and multi-threaded, for task-sized
// (~200 B) and bulk (1 MiB) requests. Target: task-sized alloc+free < 100 ns.
// Run: build/bin/bench_allocator --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "chimaera/ipc/segment.h"

namespace {
using namespace chi::ipc;

struct SharedHeap {
  SharedHeap() {
    name = Segment::MakeName("bench_alloc_" + std::to_string(getpid()));
    seg = Segment::Create({name, 1ull << 30, AllocatorId(1)});
  }
  ~SharedHeap() {
    seg.reset();
    Segment::Unlink(name);
  }
  std::string name;
  std::unique_ptr<Segment> seg;
};
SharedHeap &Heap() {
  static SharedHeap heap;
  return heap;
}

// One alloc + free pair per iteration (the task lifecycle on the hot path).
void BM_AllocFree(benchmark::State &state) {
  Allocator alloc = Heap().seg->GetAllocator();
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    Pointer p = alloc.Allocate(bytes);
    benchmark::DoNotOptimize(p);
    alloc.Free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocFree)->Arg(200)->Arg(1 << 20)->ThreadRange(1, 2)->UseRealTime();

// A batch of 64 live allocations then 64 frees: exercises list depth, not just
// the same block bouncing.
void BM_AllocFreeBatch64(benchmark::State &state) {
  Allocator alloc = Heap().seg->GetAllocator();
  Pointer ptrs[64];
  for (auto _ : state) {
    for (auto &p : ptrs) p = alloc.Allocate(200);
    for (auto &p : ptrs) alloc.Free(p);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_AllocFreeBatch64)->ThreadRange(1, 2)->UseRealTime();

// The same pair on glibc malloc, as a reference point.
void BM_MallocFree(benchmark::State &state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void *p = malloc(bytes);
    benchmark::DoNotOptimize(p);
    free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFree)->Arg(200)->ThreadRange(1, 2)->UseRealTime();
}  // namespace

BENCHMARK_MAIN();
