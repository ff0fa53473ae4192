#!/usr/bin/env bash
# The main job. Until the runtime lands (issue 3), it builds everything and
# runs the shared-memory IPC benchmarks (queues, allocator) with their
# calibration, which exercises the whole foundation on this machine.
# Usage: scripts/main.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
for b in bench_queue bench_allocator; do
  printf '\033[1m[main]\033[0m %s\n' "$b"
  build/bin/$b --benchmark_min_time=0.2
done
