#!/usr/bin/env bash
# Build a fuzz target with clang's libFuzzer + ASan/UBSan and run it for a
# bounded time. Usage: run_fuzz.sh SOURCE_DIR BUILD_DIR SECONDS [TARGET]
# TARGET: load_in (task deserialization, the default) or wire (the
# node-to-node wire decoder and the remote queue's rebuild of a request).
set -euo pipefail
SRC="$1"; OUT="$2"; SECS="${3:-30}"; TARGET="${4:-load_in}"
CXX="${CHI_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14)}"
mkdir -p "$OUT/corpus_$TARGET"
extra=()
seeds=()
case "$TARGET" in
  load_in) seeds=("$SRC"/tests/fuzz/regressions/*) ;;
  wire) extra=("$SRC/cpp/net/src/wire.cc" -I"$SRC/cpp/net/include"); seeds=("$SRC"/tests/fuzz/wire_seeds/*) ;;
  *) echo "run_fuzz.sh: unknown target '$TARGET' (load_in, wire)" >&2; exit 2 ;;
esac
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$SRC/cpp/ipc/include" -I"$SRC/cpp/core/include" -I"$SRC/cpp/client/include" \
  "$SRC/tests/fuzz/fuzz_$TARGET.cc" "${extra[@]}" "$SRC"/cpp/ipc/src/*.cc "$SRC/cpp/client/src/task_error.cc" \
  -o "$OUT/fuzz_$TARGET" -lrt -lpthread
# Inputs that once crashed (and the seeds) must stay fixed (each file is one input).
"$OUT/fuzz_$TARGET" "${seeds[@]}"
exec "$OUT/fuzz_$TARGET" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  "$OUT/corpus_$TARGET" "$(dirname "${seeds[0]}")"
