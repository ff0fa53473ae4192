#!/usr/bin/env bash
# Set everything up and run every test: the GoogleTest suites (ctest) in the
# normal build, again under ASan+UBSan, the queue/allocator suites under TSan,
# and the pytest suite. Exits non-zero when any test fails.
# Usage: scripts/test.sh [--quick]   (--quick: skip the sanitizer builds)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${CHI_JOBS:-$(nproc)}"
log() { printf '\033[1m[test]\033[0m %s\n' "$*"; }

scripts/setup.sh
log "ctest (build/)"
ctest --test-dir build --output-on-failure -j "$JOBS"

if [[ "${1:-}" != "--quick" ]]; then
  log "ASan+UBSan build (build-asan/): all C++ tests"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCHI_SANITIZE=address -DCHI_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build build-asan -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS"

  log "TSan build (build-tsan/): queue, allocator and futex tests"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHI_SANITIZE=thread -DCHI_BUILD_BENCHMARKS=OFF >/dev/null
  mapfile -t tsan_targets < <(ctest --test-dir build-tsan -N -L ipc_concurrency | sed -n 's/^ *Test *#[0-9]*: //p')
  cmake --build build-tsan -j "$JOBS" --target "${tsan_targets[@]}"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-tsan --output-on-failure -j "$JOBS" -L ipc_concurrency
fi

if compgen -G "tests/python/test_*.py" >/dev/null; then
  log "pytest (tests/python)"
  .venv/bin/python -m pytest -q tests/python
fi
log "all tests passed"
