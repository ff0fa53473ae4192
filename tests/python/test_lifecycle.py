"""Runtime lifecycle from Python: start, status, stop, errors, exit cleanup."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import chimaera
from chimaera.runtime import free_port, segment_path
from conftest import child_env


def test_start_status_stop():
    rt = chimaera.start(workers=3, shm_size="32m")
    try:
        assert rt.running
        assert segment_path(rt.port).exists()
        st = rt.status()
        assert st["port"] == rt.port
        assert st["pid"] == rt.pid
        assert st["num_workers"] == 3
        assert st["state"] == "running"
        assert len(st["tasks_completed"]) == 3
    finally:
        assert rt.stop() == 0
    assert not rt.running
    assert rt.returncode == 0
    assert not segment_path(rt.port).exists()
    assert rt.stop() == 0  # idempotent


def test_context_manager_and_disconnect():
    with chimaera.start() as rt:
        assert rt.client.connected
        rt.client.disconnect()
        assert not rt.client.connected
        with pytest.raises(chimaera.RuntimeUnavailableError):
            rt.status()
        c = chimaera.connect(rt.port)
        assert c.status()["pid"] == rt.pid
    assert rt.returncode == 0


def test_connect_absent_runtime():
    with pytest.raises(chimaera.RuntimeUnavailableError) as ei:
        chimaera.connect(free_port())
    assert isinstance(ei.value, ConnectionError)
    assert "runtime" in str(ei.value)


def test_bad_config_fails_with_log():
    with pytest.raises(chimaera.RuntimeStartError) as ei:
        chimaera.start(workers=0)
    assert "workers" in str(ei.value)


def test_missing_executable(monkeypatch):
    monkeypatch.setenv("CHIMAERA_RUNTIME_EXE", "/nonexistent/chimaera_runtime")
    with pytest.raises(FileNotFoundError):
        chimaera.start()


def test_stop_runtime_through_admin(runtime):
    runtime.client.stop_runtime()
    assert runtime.wait(10) == 0
    assert not runtime.client.connected


def test_runtime_stopped_at_interpreter_exit():
    code = "import chimaera; rt = chimaera.start(); print(rt.pid, rt.port, flush=True)"
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    pid, port = map(int, out.stdout.split())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the runtime outlived the interpreter that started it")
    assert not segment_path(port).exists()


def test_runtime_death_is_reported(runtime, pool):
    import signal

    from conftest import Frozen

    with Frozen(runtime):
        fut = pool.md_async()
        os.kill(runtime.pid, signal.SIGKILL)  # dies with the task pending
    t0 = time.monotonic()
    with pytest.raises(chimaera.TaskError) as ei:
        fut.result(timeout=10)
    assert ei.value.code == chimaera.TaskErrorCode.RUNTIME_DEAD
    assert time.monotonic() - t0 < 5
    assert not runtime.client.alive()
    assert chimaera._core.segment_state(runtime.port) == "dead"
    runtime.stop()
    assert not segment_path(runtime.port).exists()  # reclaimed by stop()


def test_port_in_use_fails_cleanly(runtime):
    with pytest.raises(chimaera.RuntimeStartError) as ei:
        chimaera.start(port=runtime.port, timeout=20)
    assert str(runtime.port) in str(ei.value)
    c = chimaera.connect(runtime.port)  # the first runtime is untouched
    assert c.status()["pid"] == runtime.pid


def test_status_lists_pools_and_queue_depths(runtime):
    """status(): the pools the runtime has (from the admin's ListPools) and
    the depth of each process-queue lane."""
    client = chimaera.connect(runtime.port)
    before = {p["name"] for p in client.status()["pools"]}
    pool = client.create_pool("status_probe", "small_message")
    st = client.status()
    names = {p["name"]: p for p in st["pools"]}
    assert "admin" in before and "status_probe" not in before
    assert names["status_probe"]["module"] == "chimaera::small_message"  # resolved to its qualified name
    modules = {m["name"]: m["path"] for m in st["modules"]}
    for m in ("chimaera::admin", "chimaera::small_message", "chimaera::compressor", "chimaera::bdev"):
        assert modules[m].endswith(".so"), modules
    assert names["status_probe"]["id"] == pool.id
    assert st["queue_depths"] and all(isinstance(d, int) and d >= 0 for d in st["queue_depths"])
    pool.destroy()
    assert "status_probe" not in {p["name"] for p in client.status()["pools"]}
