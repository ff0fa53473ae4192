#!/usr/bin/env python3
"""Chimaera vs its peers from Python, same workload, same run (issue 6).

Systems: Chimaera (chimaera.start: a runtime daemon, this process a client),
concurrent.futures.ProcessPoolExecutor, and Dask distributed LocalCluster
(processes=True, threads_per_worker=1).

Workloads:
  (a) sync round trip of an empty task: median of individually timed
      submit-and-wait calls (µs);
  (b) batch throughput of empty tasks (tasks/s; median of repetitions).
      Chimaera: Pool.md_batch (one call into C++, window of tasks in flight);
      PPE: executor.submit per task then wait; Dask: client.map + wait;
  (c) compression: zstd level 3 compress then decompress every file of a
      fixed corpus (the .py files of Python's stdlib, then of
      /usr/lib/python3/dist-packages, in path order, bounded to --corpus-mb),
      one task per file per direction, results returned to the caller and
      verified (CRC-32) outside the timed region. Throughput is input MB
      (1e6 bytes) / elapsed seconds of both passes, with 1 and 2 workers.
      Chimaera: CompressorPool.compress_many + decompress_many (window 16)
      on runtimes started with workers=1 and workers=2; PPE/Dask run the
      python3-zstandard codec (same libzstd) in their worker processes.
      Beside them, the machine's own 2-way ceiling: two forked processes
      doing the one-thread job at once (speedup = 2 x one thread / wall).

(a) and (b) use the runtime's default worker count on this machine
(workers = cores - 1 = 1 on 2 cores, leaving a core to the client), PPE(2)
and Dask with 2 workers. On 2 cores, every 2-worker configuration competes
with the client process for the cores: measured as is.

Prints one line per figure and, with --json PATH, writes
{"figures": [{"name", "system", "value", "unit", ...}]}.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import glob
import json
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

try:
    import chimaera
except ImportError:  # source tree without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
    import chimaera

FIGURES: list[dict] = []


def fig(name: str, system: str, value: float, unit: str, **extra) -> None:
    d = {"name": name, "system": system, "value": value, "unit": unit, **extra}
    FIGURES.append(d)
    print(f"  {system:10s} {name:40s} {value:14,.2f} {unit}", flush=True)


# ----------------------------------------------------------------- workload
def noop(x=None):
    return x


_zc = _zd = None


def zcompress(data: bytes) -> bytes:
    global _zc
    if _zc is None:
        import zstandard
        _zc = zstandard.ZstdCompressor(level=3)
    return _zc.compress(data)


def zdecompress(data: bytes) -> bytes:
    global _zd
    if _zd is None:
        import zstandard
        _zd = zstandard.ZstdDecompressor()
    return _zd.decompress(data)


def load_corpus(limit_mb: float) -> list[bytes]:
    limit = int(limit_mb * 1e6)
    stdlib = Path(os.__file__).parent
    paths = sorted(glob.glob(f"{stdlib}/**/*.py", recursive=True))
    paths += sorted(glob.glob("/usr/lib/python3/dist-packages/**/*.py", recursive=True))
    out, total = [], 0
    for p in paths:
        try:
            b = Path(p).read_bytes()
        except OSError:
            continue
        if not b:
            continue
        out.append(b)
        total += len(b)
        if total >= limit:
            break
    return out


def verify(corpus: list[bytes], restored: list[bytes]) -> None:
    assert len(restored) == len(corpus)
    for a, b in zip(corpus, restored):
        if len(a) != len(b) or zlib.crc32(a) != zlib.crc32(b):
            raise SystemExit("round trip mismatch")


def timed_reps(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def per_call_median_us(call, n: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = clock()
        call()
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000


# ----------------------------------------------------------------- systems
def bench_chimaera(a, corpus: list[bytes], mb: float) -> None:
    print("Chimaera", flush=True)
    # workers=None: the runtime's default (max(1, cores - 1): 1 on 2 cores)
    with chimaera.start(workers=None, shm_size="512m", queue_depth=4096, log_level="warn") as rt:
        workers = rt.status()["num_workers"]
        pool = rt.create_pool("peers_md", "small_message")
        pool.md_batch(20000)
        for _ in range(2000):
            pool.md()
        fig("sync_rt", "chimaera", statistics.median(per_call_median_us(pool.md, a.sync_n) for _ in range(3)),
            "us", workers=workers)
        rates = [a.batch_n / t for t in timed_reps(lambda: pool.md_batch(a.batch_n, window=512), a.reps)]
        fig("batch", "chimaera", statistics.median(rates), "tasks/s", workers=workers, n=a.batch_n)


def bench_compression(a, corpus: list[bytes], mb: float) -> None:
    """Chimaera with 1 and 2 workers and one thread in-process, the same job,
    alternating in rounds (this VM's speed changes between runs: every
    system sees the same states). Medians of the rounds."""
    print("Compression (Chimaera 1 and 2 workers, one thread in-process, two processes without the runtime; in turn, per round)", flush=True)
    sizes = [len(b) for b in corpus]
    rts = [chimaera.start(workers=w, shm_size="512m", queue_depth=4096, log_level="warn") for w in (1, 2)]
    try:
        pools = []
        for rt in rts:
            chimaera.connect(rt.port)
            pools.append(rt.client.create_pool("peers_zip", "compressor"))
        result: list = []

        def chimaera_run(k: int):
            chimaera.connect(rts[k].port)
            z = pools[k]

            def run() -> None:
                packed = z.compress_many(corpus, codec="zstd", level=3, window=16)
                result[:] = [d for d, _ in z.decompress_many([p for p, _ in packed], sizes, codec="zstd", window=16)]
            return run

        def inline_run() -> None:
            result[:] = [zdecompress(zcompress(b)) for b in corpus]

        def two_processes_run() -> None:
            # The machine's own ceiling for 2-way parallelism on this job: two
            # forked processes, no runtime, each doing inline_run's whole job.
            children = []
            for _ in range(2):
                pid = os.fork()
                if pid == 0:
                    try:
                        [zdecompress(zcompress(b)) for b in corpus]
                    finally:
                        os._exit(0)
                children.append(pid)
            for pid in children:
                _, status = os.waitpid(pid, 0)
                if status != 0:
                    raise SystemExit(f"two-process ceiling: child exited with status {status}")

        runs = {"chimaera_1w": chimaera_run(0), "chimaera_2w": chimaera_run(1), "inline": inline_run,
                "two_processes": two_processes_run}
        secs: dict[str, list[float]] = {k: [] for k in runs}
        for name, run in runs.items():  # warm-up, checked
            if name.startswith("chimaera"):
                chimaera.connect(rts[0 if name.endswith("1w") else 1].port)
            run()
            if name != "two_processes":
                verify(corpus, result)
        for _ in range(a.rounds):
            for name, run in runs.items():
                if name.startswith("chimaera"):
                    chimaera.connect(rts[0 if name.endswith("1w") else 1].port)
                t0 = time.perf_counter()
                run()
                secs[name].append(time.perf_counter() - t0)
        rate = {k: mb / statistics.median(v) for k, v in secs.items()}
        fig("compress_1w", "chimaera", rate["chimaera_1w"], "MB/s", workers=1, rounds=a.rounds)
        fig("compress_2w", "chimaera", rate["chimaera_2w"], "MB/s", workers=2, rounds=a.rounds)
        fig("compress_1thread", "inline", rate["inline"], "MB/s", rounds=a.rounds)
        per_round_1w = [secs["inline"][i] / secs["chimaera_1w"][i] for i in range(a.rounds)]
        per_round_2w = [secs["chimaera_1w"][i] / secs["chimaera_2w"][i] for i in range(a.rounds)]
        fig("compress_1w_over_inline", "chimaera", rate["chimaera_1w"] / rate["inline"], "x",
            per_round=[round(x, 2) for x in per_round_1w])
        fig("compress_2w_over_1w", "chimaera", rate["chimaera_2w"] / rate["chimaera_1w"], "x",
            per_round=[round(x, 2) for x in per_round_2w])
        # Two processes do twice the work: speedup = 2 * one thread's time / their wall time.
        per_round_ceiling = [2 * secs["inline"][i] / secs["two_processes"][i] for i in range(a.rounds)]
        fig("two_processes_over_one_thread", "inline", statistics.median(per_round_ceiling), "x",
            per_round=[round(x, 2) for x in per_round_ceiling])
    finally:
        for rt in rts:
            rt.stop()


def bench_ppe(a, corpus: list[bytes], mb: float) -> None:
    print("ProcessPoolExecutor", flush=True)
    with cf.ProcessPoolExecutor(2) as ex:
        list(ex.map(noop, range(200)))
        for _ in range(200):
            ex.submit(noop).result()
        fig("sync_rt", "ppe", statistics.median(
            per_call_median_us(lambda: ex.submit(noop).result(), a.sync_n_slow) for _ in range(3)), "us",
            workers=2)
        n = a.batch_n_ppe

        def batch() -> None:
            cf.wait([ex.submit(noop) for _ in range(n)])

        batch()
        fig("batch", "ppe", statistics.median(n / t for t in timed_reps(batch, a.reps)), "tasks/s",
            workers=2, n=n)
    for w in (1, 2):
        with cf.ProcessPoolExecutor(w) as ex:
            result: list = []

            def run() -> None:
                packed = list(ex.map(zcompress, corpus))
                result[:] = list(ex.map(zdecompress, packed))

            run()
            secs = timed_reps(run, a.reps)
            verify(corpus, result)
            fig(f"compress_{w}w", "ppe", mb / statistics.median(secs), "MB/s", workers=w)


def bench_dask(a, corpus: list[bytes], mb: float) -> None:
    print("Dask distributed", flush=True)
    try:
        import dask
        from distributed import Client, LocalCluster, wait
    except ImportError as e:
        print(f"  skipped: {e} (apt-get install python3-distributed)")
        return
    import logging
    logging.getLogger("distributed").setLevel(logging.ERROR)
    for w in (2, 1):
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            client.wait_for_workers(w)
            if w == 2:
                wait(client.map(noop, range(200), pure=False))
                for _ in range(50):
                    client.submit(noop, pure=False).result()
                fig("sync_rt", "dask", statistics.median(per_call_median_us(
                    lambda: client.submit(noop, pure=False).result(), a.sync_n_dask) for _ in range(3)), "us",
                    workers=2, version=dask.__version__)
                n = a.batch_n_dask

                def batch() -> None:
                    wait(client.map(noop, range(n), pure=False))

                batch()
                fig("batch", "dask", statistics.median(n / t for t in timed_reps(batch, a.reps)), "tasks/s",
                    workers=2, n=n)
            result: list = []

            def run() -> None:
                packed = client.map(zcompress, corpus, pure=False)
                restored = client.map(zdecompress, packed, pure=False)
                result[:] = client.gather(restored)

            run()
            secs = timed_reps(run, a.reps)
            verify(corpus, result)
            fig(f"compress_{w}w", "dask", mb / statistics.median(secs), "MB/s", workers=w)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~30 s smoke run (smaller counts and corpus)")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--systems", default="chimaera,compression,ppe,dask",
                    help="comma-separated: chimaera (sync, batch), compression (Chimaera 1/2 workers and one "
                         "thread in-process, interleaved), ppe, dask")
    a = ap.parse_args()
    q = a.quick
    a.reps = 3
    a.rounds = 3 if q else 5
    a.sync_n = 2000 if q else 20000
    a.sync_n_slow = 300 if q else 2000
    a.sync_n_dask = 50 if q else 200
    a.batch_n = 200_000 if q else 1_000_000
    a.batch_n_ppe = 5000 if q else 30000
    a.batch_n_dask = 1000 if q else 5000
    a.corpus_mb = 6 if q else 24
    corpus = load_corpus(a.corpus_mb)
    mb = sum(map(len, corpus)) / 1e6
    print(f"corpus: {len(corpus)} files, {mb:.1f} MB", flush=True)
    systems = a.systems.split(",")
    for name, fn in (("chimaera", bench_chimaera), ("compression", bench_compression), ("ppe", bench_ppe),
                     ("dask", bench_dask)):
        if name in systems:
            fn(a, corpus, mb)
    if a.json:
        Path(a.json).write_text(json.dumps({"corpus": {"files": len(corpus), "mb": mb}, "figures": FIGURES},
                                           indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
