#!/usr/bin/env python3
"""Where the compression job's time goes, per thread (issue 15's profile).

Runs bench_peers.py's compression workload (compress_many, then
decompress_many, window 16) on runtimes with 1 and 2 workers, 6 rounds of
each phase, and reads every thread's user+system CPU time from
/proc/<pid>/task/<tid>/stat before and after each round: the runtime's
threads (its workers and its other threads) and this client process's.
Prints, per phase, the median wall time and each thread's CPU time as a
share of the wall time (100 % = one core busy all along; 200 % = both cores
of this machine), and the workers' total CPU time for the phase's work, so
that a rise from 1 to 2 workers shows the per-core slowdown when both cores
compute at once.

Usage: .venv/bin/python benchmarks/python/compression_thread_cpu.py [--corpus-mb 24] [--rounds 6]
Linux only (/proc); no perf counters needed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers  # noqa: E402  (the same corpus and codec calls)

chimaera = bench_peers.chimaera
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[tuple[int, str], float]:
    """{(tid, thread name): user+system CPU seconds} of every thread of `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:  # the thread ended
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[(int(tid), name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus-mb", type=float, default=24)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    corpus = bench_peers.load_corpus(a.corpus_mb)
    sizes = [len(b) for b in corpus]
    print(f"corpus: {len(corpus)} files, {sum(sizes) / 1e6:.1f} MB")
    for workers in (1, 2):
        with chimaera.start(workers=workers, shm_size="512m", queue_depth=4096, log_level="warn") as rt:
            pool = rt.client.create_pool("thread_cpu", "compressor")
            packed = [p for p, _ in pool.compress_many(corpus, codec="zstd", level=3, window=16)]
            phases = (("compress", lambda: pool.compress_many(corpus, codec="zstd", level=3, window=16)),
                      ("decompress", lambda: pool.decompress_many(packed, sizes, codec="zstd", window=16)))
            for phase, run in phases:
                walls, cpu = [], {}
                for _ in range(a.rounds):
                    before = {("runtime",) + k: v for k, v in thread_cpu_seconds(rt.pid).items()}
                    before.update({("client",) + k: v for k, v in thread_cpu_seconds(os.getpid()).items()})
                    t0 = time.perf_counter()
                    run()
                    walls.append(time.perf_counter() - t0)
                    after = {("runtime",) + k: v for k, v in thread_cpu_seconds(rt.pid).items()}
                    after.update({("client",) + k: v for k, v in thread_cpu_seconds(os.getpid()).items()})
                    for k, v in after.items():
                        cpu[k] = cpu.get(k, 0.0) + v - before.get(k, 0.0)
                wall = sum(walls)
                print(f"{workers} worker(s), {phase}: wall median {statistics.median(walls) * 1e3:.1f} ms")
                for (side, tid, name), seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
                    if seconds / wall >= 0.005:
                        print(f"    {side:8s} thread {tid:<8d} {name:16s} {seconds / wall * 100:6.1f} %")
                top = sorted((v for k, v in cpu.items() if k[0] == "runtime"), reverse=True)[:workers]
                print(f"    all threads {sum(cpu.values()) / wall * 100:.1f} % (200 % = both cores); "
                      f"the {workers} busiest runtime thread(s): {sum(top) / a.rounds * 1e3:.1f} ms CPU per round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
