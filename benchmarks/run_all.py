#!/usr/bin/env python3
"""Run every benchmark and report one table (issue 6).

Runs the C++ Google Benchmark programs (build/bin/bench_queue,
bench_allocator, bench_runtime with --benchmark_format=json), the Python
client benchmark (benchmarks/python/bench_python.py) and the side-by-side
comparison with peers (benchmarks/python/bench_peers.py: Chimaera vs
concurrent.futures.ProcessPoolExecutor vs Dask distributed LocalCluster),
each in its own process, one after the other. Prints every figure (name,
system, value, unit), the comparison table with the ratios and their targets
(PASS/FAIL), and the machine (CPU model, cores, kernel, load average before
and after: the machine may be shared). ``--json PATH`` writes it all.

Figures are medians (of repetitions for throughput, of individually timed
calls for latency) after a warm-up. Full run: ~5 minutes on 2 cores;
``--quick``: ~1 minute smoke.

Usage: .venv/bin/python benchmarks/run_all.py [--quick] [--json out.json] [--build-dir build]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable

# Google Benchmark JSON keys that are not figures.
_GB_KEYS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
            "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
            "aggregate_name", "aggregate_unit", "items_per_second", "bytes_per_second", "label",
            "error_occurred", "error_message"}

# Targets (issue 6): (label, numerator figure, denominator figure, target ratio).
TARGETS = [
    ("batch throughput Chimaera / PPE", ("chimaera", "batch"), ("ppe", "batch"), 20.0),
    ("batch throughput Chimaera / Dask", ("chimaera", "batch"), ("dask", "batch"), 100.0),
    ("sync round trip PPE / Chimaera", ("ppe", "sync_rt"), ("chimaera", "sync_rt"), 10.0),
    ("sync round trip Dask / Chimaera", ("dask", "sync_rt"), ("chimaera", "sync_rt"), None),
    ("compression 2 workers / 1 worker, Chimaera", ("chimaera", "compress_2w"), ("chimaera", "compress_1w"), 1.6),
    ("compression 1 worker Chimaera / one thread in-process", ("chimaera", "compress_1w"), ("inline", "compress_1thread"),
     0.9),
    ("compression 2 workers / 1 worker, PPE", ("ppe", "compress_2w"), ("ppe", "compress_1w"), None),
    ("compression 2 workers / 1 worker, Dask", ("dask", "compress_2w"), ("dask", "compress_1w"), None),
    ("compression 1 worker Chimaera / PPE", ("chimaera", "compress_1w"), ("ppe", "compress_1w"), None),
    ("compression 2 workers Chimaera / Dask", ("chimaera", "compress_2w"), ("dask", "compress_2w"), None),
]


def machine() -> dict:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "os": platform.platform(),
            "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def cpp_benchmarks(build: Path, quick: bool) -> tuple[list[dict], list[str]]:
    runs = {
        "bench_queue": [],
        "bench_allocator": ["--benchmark_min_time=0.05" if quick else "--benchmark_min_time=0.2"],
        "bench_runtime": (["--benchmark_filter=BM_SyncRoundTrip|BM_AsyncThroughput|BM_FirstTaskAfterIdle/10/"]
                          if quick else []),
    }
    figures, errors = [], []
    for prog, extra in runs.items():
        exe = build / "bin" / prog
        if not exe.exists():
            errors.append(f"{prog}: {exe} not built (cmake --build build -j2)")
            continue
        print(f"== {prog}", flush=True)
        t0 = time.monotonic()
        try:
            p = subprocess.run([str(exe), "--benchmark_format=json", *extra], capture_output=True, text=True,
                               timeout=300, cwd=REPO)
            data = json.loads(p.stdout)
        except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            errors.append(f"{prog}: {type(e).__name__}: {str(e)[:200]}")
            continue
        if p.returncode != 0:
            errors.append(f"{prog}: exit {p.returncode}: {p.stderr[-300:]}")
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                errors.append(f"{prog} {b['name']}: {b.get('error_message')}")
                continue
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            name = b["name"]
            base = {"system": "chimaera-c++", "program": prog}
            if "items_per_second" in b:
                figures.append({"name": name, "value": b["items_per_second"], "unit": "items/s", **base})
            else:
                figures.append({"name": name, "value": b["real_time"], "unit": b.get("time_unit", "ns"), **base})
            for k, v in b.items():
                if k in _GB_KEYS or not isinstance(v, (int, float)):
                    continue
                unit = k.rsplit("_", 1)[-1] if k.endswith(("_ns", "_us", "_ms", "_pct")) else ""
                figures.append({"name": f"{name}:{k}", "value": v, "unit": unit, **base})
        print(f"   {time.monotonic() - t0:.0f} s", flush=True)
    return figures, errors


def python_benchmark(script: str, args: list[str], timeout: float) -> tuple[dict, str | None]:
    print(f"== {script} {' '.join(args)}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.json"
        t0 = time.monotonic()
        try:
            p = subprocess.run([PY, str(REPO / "benchmarks" / "python" / script), *args, "--json", str(out)],
                               timeout=timeout, cwd=REPO)
        except subprocess.TimeoutExpired:
            return {}, f"{script}: timed out after {timeout:.0f} s"
        print(f"   {time.monotonic() - t0:.0f} s", flush=True)
        if p.returncode != 0 or not out.exists():
            return {}, f"{script}: exit {p.returncode}"
        return json.loads(out.read_text()), None


def fmt(v: float) -> str:
    if v >= 1e5:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:,.1f}"
    return f"{v:.3g}" if v < 1 else f"{v:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~1 minute smoke run")
    ap.add_argument("--json", metavar="PATH", help="write every figure, the ratios and the machine")
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--skip-cpp", action="store_true")
    ap.add_argument("--skip-python", action="store_true")
    a = ap.parse_args()

    m = machine()
    load_before = os.getloadavg()
    t_start = time.monotonic()
    figures: list[dict] = []
    errors: list[str] = []
    if not a.skip_cpp:
        f, e = cpp_benchmarks(Path(a.build_dir), a.quick)
        figures += f
        errors += e
    extra: dict = {}
    if not a.skip_python:
        q = ["--sync-n", "2000", "--rounds", "3", "--batch-n", "200000"] if a.quick else \
            ["--sync-n", "20000", "--rounds", "3", "--batch-n", "1000000"]
        d, e = python_benchmark("bench_python.py", q, 300)
        figures += d.get("figures", [])
        errors += [e] if e else []
        d, e = python_benchmark("bench_peers.py", ["--quick"] if a.quick else [], 600)
        figures += d.get("figures", [])
        extra["corpus"] = d.get("corpus")
        errors += [e] if e else []
    m["load_average_before"] = [round(x, 2) for x in load_before]
    m["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    elapsed = time.monotonic() - t_start

    # ---- every figure
    print()
    print("| figure | system | value | unit |")
    print("|---|---|---:|---|")
    for f in figures:
        print(f"| {f['name']} | {f['system']} | {fmt(f['value'])} | {f['unit']} |")

    # ---- side by side
    get = {(f["system"], f["name"]): f["value"] for f in figures}
    systems = ["chimaera", "ppe", "dask"]
    rows = [("(a) empty task, sync round trip (median)", "sync_rt", "µs"),
            ("(b) empty tasks, batch throughput", "batch", "tasks/s"),
            ("(c) zstd compress+decompress, 1 worker", "compress_1w", "MB/s"),
            ("(c) zstd compress+decompress, 2 workers", "compress_2w", "MB/s")]
    corpus = extra.get("corpus") or {}
    print()
    print(f"Side by side (same run; corpus {corpus.get('files', '?')} files, {corpus.get('mb', 0):.1f} MB of .py"
          f" files; single-thread in-process zstd: "
          f"{fmt(get.get(('inline', 'compress_1thread'), float('nan')))} MB/s)")
    print("| workload | unit | Chimaera | ProcessPoolExecutor | Dask distributed |")
    print("|---|---|---:|---:|---:|")
    for label, key, unit in rows:
        cells = [fmt(get[(s, key)]) if (s, key) in get else "n/a" for s in systems]
        print(f"| {label} | {unit} | {' | '.join(cells)} |")

    ratios = []
    print()
    print("| ratio | value | target | result |")
    print("|---|---:|---:|---|")
    for label, num, den, target in TARGETS:
        if num not in get or den not in get or get[den] == 0:
            ratios.append({"name": label, "value": None, "target": target, "pass": None})
            print(f"| {label} | n/a | {'' if target is None else f'>= {target:g}x'} | n/a |")
            continue
        r = get[num] / get[den]
        ok = None if target is None else r >= target
        ratios.append({"name": label, "value": r, "target": target, "pass": ok})
        print(f"| {label} | {r:,.2f}x | {'' if target is None else f'>= {target:g}x'} | "
              f"{'' if ok is None else ('PASS' if ok else 'FAIL')} |")

    print()
    print(f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Python {m['python']}, {m['date']}; "
          f"load average before {m['load_average_before'][0]}, after {m['load_average_after'][0]}; "
          f"run took {elapsed:.0f} s{' (--quick)' if a.quick else ''}")
    for e in errors:
        print(f"ERROR: {e}")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": m, "quick": a.quick, "elapsed_s": elapsed,
                                            "corpus": corpus, "figures": figures, "ratios": ratios,
                                            "errors": errors}, indent=1))
        print(f"wrote {a.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
