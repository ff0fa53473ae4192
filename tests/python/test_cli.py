"""The chimaera command line (python -m chimaera)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chimaera.runtime import free_port, segment_path
from conftest import child_env


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chimaera", *args], env=child_env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("cmd", [[], ["start"], ["stop"], ["status"], ["new-repo"], ["new-mod"]])
def test_help(cmd):
    r = cli(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout


def test_usage_errors_exit_2():
    assert cli().returncode == 2
    assert cli("bogus").returncode == 2
    assert cli("status", "--port", "notanumber").returncode == 2
    r = cli("new-mod", "/nonexistent/repo", "x")
    assert r.returncode != 0 and r.stderr


def test_status_and_stop_without_runtime():
    port = str(free_port())
    r = cli("status", "--port", port)
    assert r.returncode == 1 and "runtime" in r.stderr
    assert cli("stop", "--port", port).returncode == 1


def test_start_daemon_status_stop(tmp_path):
    port = free_port()
    r = cli("start", "--daemon", "--port", str(port), "--workers", "1", "--shm-size", "32m",
            "--log", str(tmp_path / "rt.log"))
    try:
        assert r.returncode == 0, r.stderr
        assert f"port {port}" in r.stdout
        r = cli("status", "--port", str(port), "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["num_workers"] == 1 and st["state"] == "running"
        assert {"id": 1, "name": "admin", "module": "admin", "nodes": [0]} in st["pools"]
        assert len(st["queue_depths"]) >= 1 and all(d >= 0 for d in st["queue_depths"])
        r = cli("status", "--port", str(port))
        assert "worker 0" in r.stdout and "admin" in r.stdout and "process queue" in r.stdout
    finally:
        r = cli("stop", "--port", str(port))
    assert r.returncode == 0, r.stderr
    assert not segment_path(port).exists()


def test_start_bad_config_fails(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("workers: lots\n")
    r = cli("start", "--daemon", "--config", str(conf), "--port", str(free_port()), "--log",
            str(tmp_path / "rt.log"))
    assert r.returncode == 1
    assert "workers" in r.stderr


def test_start_foreground_stops_on_sigint(tmp_path):
    import signal
    import time

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "chimaera", "start", "--port", str(port), "--workers", "1",
                             "--shm-size", "32m"], env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while cli("status", "--port", str(port)).returncode != 0:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # the runtime replaced the CLI process (exec)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not segment_path(port).exists()


def test_scaffold_repo_and_module(tmp_path):
    repo = tmp_path / "myrepo"
    r = cli("new-repo", str(repo), "--namespace", "demo")
    assert r.returncode == 0, r.stderr
    assert (repo / "chimaera_repo.yaml").is_file()
    r = cli("new-mod", str(repo), "mymod")
    assert r.returncode == 0, r.stderr
    assert (repo / "mymod" / "chimaera_mod.yaml").is_file()
    r = cli("new-repo", str(repo), "--namespace", "demo")  # refuses to overwrite
    assert r.returncode != 0
