#!/usr/bin/env bash
# Build the LoadIn fuzz target with clang's libFuzzer + ASan/UBSan and run it
# for a bounded time. Usage: run_fuzz.sh SOURCE_DIR BUILD_DIR SECONDS
set -euo pipefail
SRC="$1"; OUT="$2"; SECS="${3:-30}"
CXX="${CHI_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14)}"
mkdir -p "$OUT/corpus"
"$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$SRC/cpp/ipc/include" -I"$SRC/cpp/core/include" -I"$SRC/cpp/client/include" \
  "$SRC/tests/fuzz/fuzz_load_in.cc" "$SRC"/cpp/ipc/src/*.cc "$SRC/cpp/client/src/task_error.cc" \
  -o "$OUT/fuzz_load_in" -lrt -lpthread
# Inputs that once crashed must stay fixed (each file is one input).
"$OUT/fuzz_load_in" "$SRC"/tests/fuzz/regressions/*
exec "$OUT/fuzz_load_in" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 "$OUT/corpus"
