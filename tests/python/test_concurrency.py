"""Many Python threads, and several Python processes, sharing one runtime."""
from __future__ import annotations

import subprocess
import sys
import threading

import chimaera
from conftest import child_env


def test_many_threads_submit_concurrently(runtime, pool):
    n_threads, per_thread = 8, 300
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def work(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(per_thread // 3):
                pool.md()
            futs = [pool.md_async() for _ in range(per_thread // 3)]
            assert chimaera.wait_all(futs, timeout=60)
            for f in futs:
                f.result()
            assert pool.md_batch(per_thread // 3 + 1000, window=32) == per_thread // 3 + 1000
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert sum(runtime.status()["tasks_completed"]) >= n_threads * (per_thread + 1000)


CHILD = """
import sys, chimaera
c = chimaera.connect(int(sys.argv[1]))
p = c.pool(int(sys.argv[2]))
for _ in range(200):
    p.md()
n = p.md_batch(20000, window=64)
fs = p.submit_batch(100)
assert chimaera.wait_all(fs, 60)
print("ok", n)
"""


def test_two_processes_share_one_runtime(runtime, pool):
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(runtime.port), str(pool.id)], env=child_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert pool.md_batch(20000) == 20000  # this process too, at the same time
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.split() == ["ok", "20000"]
    # A client process that exits does not stop the runtime.
    pool.md()
    assert runtime.status()["state"] == "running"
