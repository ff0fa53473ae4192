#!/usr/bin/env python3
"""Python client overhead: sync md() round trip and batch throughput.

Starts its own runtime (chimaera.start) unless --port names a running one.
Prints the sync round trip (µs): the median of per-round means over --rounds
rounds of --sync-n calls, and the median/p99 of individually timed calls,
and batch throughput (tasks/s) of Pool.md_batch (one call into C++ per batch,
GIL released) and of Pool.submit_batch + wait_all (one Future per task).
Targets (issue 5): sync < 5 µs, batch > 500k tasks/s.

Default --workers 1: with the client thread plus N spinning workers, N + 1
must not exceed the free cores, or spinning threads time-slice with the one
doing the work and the round trip jumps to ~100 µs (a 2-core machine).

Usage: .venv/bin/python benchmarks/python/bench_python.py [--workers 2] [--port P]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

try:
    import chimaera
except ImportError:  # source tree without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
    import chimaera


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--port", type=int, default=None, help="use the runtime already running on PORT")
    ap.add_argument("--sync-n", type=int, default=20000, help="sync calls per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch-n", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON (benchmarks/run_all.py)")
    args = ap.parse_args()
    figures = []

    def fig(name, value, unit):
        figures.append({"name": name, "system": "chimaera", "value": value, "unit": unit})

    rt = None
    if args.port is None:
        rt = chimaera.start(workers=args.workers, shm_size="256m", queue_depth=4096)
        client = rt.client
    else:
        client = chimaera.connect(args.port)
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"runtime workers {client.status()['num_workers']}, cpus {os.cpu_count()}, load average {load}")
        pool = client.create_pool(f"bench_python_{time.monotonic_ns()}", "small_message")
        pool.md_batch(10000)  # warm up
        for _ in range(1000):
            pool.md()

        per_call = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(args.sync_n):
                pool.md()
            per_call.append((time.perf_counter() - t0) / args.sync_n * 1e6)
        fig("py_sync_rt_mean_per_round", statistics.median(per_call), "us")
        print(f"sync md() round trip, mean per round: median {statistics.median(per_call):.2f} us "
              f"(rounds of {args.sync_n}: {', '.join(f'{x:.2f}' for x in per_call)})")
        # Each call timed on its own (as bench_runtime's BM_SyncRoundTrip median_ns):
        # robust to a loaded machine, includes ~0.1 us of timer overhead.
        md, clock = pool.md, time.perf_counter_ns
        samples = []
        for _ in range(args.sync_n):
            t0 = clock()
            md()
            samples.append(clock() - t0)
        samples.sort()
        fig("py_sync_rt_per_call_median", samples[len(samples) // 2] / 1000, "us")
        fig("py_sync_rt_per_call_p99", samples[int(len(samples) * 0.99)] / 1000, "us")
        print(f"sync md() round trip, per call: median {samples[len(samples) // 2] / 1000:.2f} us, "
              f"p99 {samples[int(len(samples) * 0.99)] / 1000:.2f} us")

        rates = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            n = pool.md_batch(args.batch_n, window=args.window)
            rates.append(n / (time.perf_counter() - t0))
        fig(f"py_md_batch_w{args.window}", statistics.median(rates), "tasks/s")
        print(f"batch md_batch(n={args.batch_n}, window={args.window}): median {statistics.median(rates):,.0f} "
              f"tasks/s (best {max(rates):,.0f})")

        t0 = time.perf_counter()
        futs = pool.submit_batch(20000)
        chimaera.wait_all(futs)
        dt = time.perf_counter() - t0
        fig("py_submit_batch_wait_all", 20000 / dt, "tasks/s")
        print(f"submit_batch(20000) + wait_all (one Future per task): {20000 / dt:,.0f} tasks/s")
        pool.destroy()
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"workers": client.status()["num_workers"], "figures": figures}, f, indent=1)
    finally:
        if rt is not None:
            rt.stop()
        else:
            client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
