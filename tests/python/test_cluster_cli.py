"""Starting and stopping clusters: chimaera.start_cluster(local=N) (a context
manager over N runtime processes on 127.0.0.2..), a node that cannot start,
the CLI `chimaera cluster start|status|stop --local N`, and the remote path
(ClusterShell over ssh) against an sshd this test starts on loopback."""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import chimaera
from chimaera import _core
from chimaera.cli import _pid_alive, cluster_state_path
from chimaera.runtime import free_port
from conftest import child_env


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chimaera", *args], env=child_env(), capture_output=True,
                          text=True, timeout=timeout)


def _kill(pids: list[int], port: int, hosts: list[str]) -> None:
    """Cleanup after a failed test: nothing it started may outlive it."""
    for pid in pids:
        if pid > 0 and _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for h in hosts:
        _core.reclaim_segment(port, h)


def _cleanup(port: int, hosts: list[str], pids: list[int] = ()) -> None:
    """After a test of the CLI, pass or fail: stop what the state file records, then kill what is left."""
    path = cluster_state_path(port)
    pids = list(pids)
    if path.exists():
        try:
            pids += [n["pid"] for n in json.loads(path.read_text())["nodes"]]
        except (ValueError, KeyError):
            pass
        cli("cluster", "stop", "--port", str(port), "--timeout", "5", timeout=60)
        path.unlink(missing_ok=True)
    _kill(pids, port, hosts)
    shutil.rmtree(path.parent / f"cluster-{port}", ignore_errors=True)  # the logs of a failed start


def test_start_cluster_context_manager():
    t0 = time.monotonic()
    with chimaera.start_cluster(local=3, timeout=30) as cl:
        assert time.monotonic() - t0 < 30
        assert [n.host for n in cl.nodes] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        assert [n.id for n in cl.nodes] == [0, 1, 2] and all(n.port == cl.port for n in cl.nodes)
        nodes = cl.client.nodes
        assert len(nodes) == 3 and all(n["alive"] for n in nodes)
        assert [n["state"] for n in nodes] == ["self", "alive", "alive"]
        pool = cl.client.create_pool("p", "small_message")
        assert pool.md(node=2) is None

        async def main():
            return await pool.md_async(node=1)
        assert asyncio.run(main()) is None
        assert "module scan" in cl.log(1)
        c2 = cl.connect(2)  # attach to another node: it sees the same cluster and pool
        assert c2.status()["node_id"] == 2 and any(p["name"] == "p" for p in c2.status()["pools"])
        procs, port, d = list(cl._procs), cl.port, cl.dir
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert all(_core.segment_state(port, n.host) == "absent" for n in cl.nodes)
    assert not Path(d).exists()  # a clean stop removes the temp dir
    assert cl.stop() == []  # idempotent


def test_start_cluster_failing_node_is_named_with_its_log():
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(chimaera.RuntimeStartError) as e:
        chimaera.start_cluster(local=3, port=port, node_config={1: {"workers": "lots"}}, timeout=20)
    assert time.monotonic() - t0 < 20  # the exit is noticed, not waited out
    msg = str(e.value)
    assert f"node 1 (127.0.0.3:{port}) exited with code" in msg
    assert "key 'workers'" in msg and "node1.log" in msg  # the tail of its log
    for h in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):  # the others were stopped
        assert _core.segment_state(port, h) == "absent"


def test_start_cluster_argument_errors():
    with pytest.raises(ValueError):
        chimaera.start_cluster()
    with pytest.raises(ValueError):
        chimaera.start_cluster(local=2, hosts=["a"])
    with pytest.raises(ValueError):
        chimaera.start_cluster(local=0)


@pytest.mark.parametrize("cmd", [["cluster"], ["cluster", "start"], ["cluster", "stop"], ["cluster", "status"]])
def test_cluster_help(cmd):
    r = cli(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout
    if cmd == ["cluster", "start"]:
        assert "srun --ntasks-per-node=1" in r.stdout and "OMPI_COMM_WORLD_RANK" in r.stdout


def _pids(stdout: str) -> list[int]:
    return [int(x) for x in re.findall(r"pid (\d+)", stdout)]


def test_cli_cluster_start_status_stop():
    port = free_port()
    hosts = ["127.0.0.2", "127.0.0.3"]
    pids: list[int] = []
    try:
        r = cli("cluster", "start", "--local", "2", "--port", str(port), "--workers", "1", timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        pids = _pids(r.stdout)
        assert len(pids) == 2 and all(_pid_alive(p) for p in pids)  # detached: they outlive the CLI
        for k, h in enumerate(hosts):
            assert re.search(rf"node +{k} +{h}:{port} +pid {pids[k]} +log \S+node{k}\.log", r.stdout), r.stdout
        assert cluster_state_path(port).is_file()
        again = cli("cluster", "start", "--local", "2", "--port", str(port), timeout=60)
        assert again.returncode == 1 and "recorded" in again.stderr

        r = cli("cluster", "status", "--port", str(port), "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert [n["address"] for n in st["nodes"]] == [f"{h}:{port}" for h in hosts]
        assert all(n["alive"] for n in st["nodes"]) and [n["pid"] for n in st["nodes"]] == pids
        admin = next(p for p in st["pools"] if p["name"] == "admin")
        assert admin["nodes"] in (None, [0, 1])
        r = cli("cluster", "status", "--port", str(port))
        assert r.returncode == 0, r.stderr
        assert r.stdout.count(" alive ") == 2 and "admin" in r.stdout and "containers->nodes" in r.stdout

        r = cli("cluster", "stop", "--port", str(port), "--timeout", "10", timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "2 of 2 nodes cleanly" in r.stdout and r.stdout.count("exit code 0, segment absent") == 2
        assert not any(_pid_alive(p) for p in pids)
        assert all(_core.segment_state(port, h) == "absent" for h in hosts)
        assert not cluster_state_path(port).exists()
        r = cli("cluster", "status", "--port", str(port))
        assert r.returncode == 1
    finally:
        _cleanup(port, hosts, pids)


def test_cli_cluster_start_failure_exits_1():
    port = free_port()
    busy = socket.socket()  # node 1's address and port are taken: it cannot listen and exits
    busy.bind(("127.0.0.3", port))
    busy.listen()
    try:
        r = cli("cluster", "start", "--local", "3", "--port", str(port), "--timeout", "15", timeout=60)
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"node 1 (127.0.0.3:{port}) exited with code 1" in r.stderr
        assert "Address already in use" in r.stderr  # its log's tail
        assert not cluster_state_path(port).exists()
        for h in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):  # the others were stopped
            assert _core.segment_state(port, h) == "absent"
    finally:
        busy.close()
        _cleanup(port, ["127.0.0.2", "127.0.0.3", "127.0.0.4"])


def test_failed_start_stops_a_detached_node_that_had_not_answered():
    """A start that fails stops the nodes it started. A detached node that
    has not answered yet is known only by its sh parent: the SIGTERM must
    reach the runtime under it (a CI run once saw a runtime orphaned, its
    segment alive), which then stops cleanly and the sh records exit code 0."""
    port = free_port()
    cl = chimaera.start_cluster(local=1, port=port, detached=True, timeout=30)
    runtime_pid = cl.nodes[0].pid
    sh = cl._procs[0]
    try:
        assert runtime_pid != sh.pid
        cl.nodes[0].pid = sh.pid  # as before the node answered
        [r] = cl._abort_local(timeout=10)
        assert (r["rc"], r["killed"], r["segment"]) == (0, False, "absent"), r
        assert not _pid_alive(runtime_pid) and sh.poll() is not None
    finally:
        _kill([runtime_pid, sh.pid], port, ["127.0.0.2"])


# -- the remote path: ClusterShell over ssh, against a throwaway sshd on loopback --

def _sshd(tmp: Path, hosts: list[str]) -> tuple[subprocess.Popen, int, str]:
    """An sshd listening on `hosts` (one random port), root login with a throwaway key."""
    sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
    if not sshd:
        pytest.skip("sshd is not installed (Debian package openssh-server)")
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("ssh / ssh-keygen are not installed (Debian package openssh-client)")
    pytest.importorskip("ClusterShell", reason="ClusterShell is not installed (Debian package python3-clustershell)")
    if os.geteuid() != 0:
        pytest.skip("the throwaway sshd needs root (privilege separation directory /run/sshd)")
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if subprocess.run([sys.executable, "-c", "import chimaera"], env=plain, capture_output=True,
                      timeout=30).returncode != 0:
        pytest.skip("chimaera is not importable by the interpreter without PYTHONPATH (not installed), "
                    "so a login shell on the 'remote' host cannot run it")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / key)], check=True,
                       timeout=30)
    (tmp / "authorized_keys").write_text((tmp / "client_key.pub").read_text())
    for _ in range(20):
        port = random.randrange(30000, 60000)
        try:
            for h in hosts:
                with socket.socket() as s:
                    s.bind((h, port))
        except OSError:
            continue
        break
    (tmp / "sshd_config").write_text(
        f"Port {port}\n" + "".join(f"ListenAddress {h}\n" for h in hosts)
        + f"HostKey {tmp}/host_key\nAuthorizedKeysFile {tmp}/authorized_keys\nPermitRootLogin prohibit-password\n"
          "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
          f"PidFile {tmp}/sshd.pid\nLogLevel ERROR\n")
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(tmp / "sshd_config")], stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "sshd.log", "wb"), stdin=subprocess.DEVNULL, start_new_session=True)
    opts = (f"-p {port} -i {tmp}/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            "-o LogLevel=ERROR")
    deadline = time.monotonic() + 15
    while True:  # listening on every address
        try:
            for h in hosts:
                socket.create_connection((h, port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.skip("the throwaway sshd did not start: " + (tmp / "sshd.log").read_text()[-2000:])
            time.sleep(0.05)
    return proc, port, opts


def test_cli_cluster_over_ssh_with_clustershell(tmp_path):
    hosts = ["127.0.0.2", "127.0.0.3"]
    sshd, _, opts = _sshd(tmp_path, hosts)
    port = free_port()
    pids: list[int] = []
    rdir = tmp_path / "remote"
    try:
        (tmp_path / "hostfile").write_text("# two nodes, one sshd\n127.0.0.[2-3]\n")
        r = cli("cluster", "start", "--hostfile", str(tmp_path / "hostfile"), "--port", str(port),
                f"--ssh-options={opts}", "--remote-dir", str(rdir), "--timeout", "30", timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "(ssh)" in r.stdout
        pids = _pids(r.stdout)
        assert len(pids) == 2 and all(_pid_alive(p) for p in pids)
        assert (rdir / "node1.yaml").is_file() and (rdir / "node0.log").is_file()
        r = cli("cluster", "status", "--port", str(port), "--json", timeout=60)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert [n["address"] for n in st["nodes"]] == [f"{h}:{port}" for h in hosts]
        assert all(n["alive"] for n in st["nodes"])
        r = cli("cluster", "stop", "--port", str(port), timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count("exit code 0, segment absent") == 2
        assert not any(_pid_alive(p) for p in pids)
        assert all(_core.segment_state(port, h) == "absent" for h in hosts)
    finally:
        _cleanup(port, hosts, pids)
        sshd.terminate()
        try:
            sshd.wait(10)
        except subprocess.TimeoutExpired:
            sshd.kill()
            sshd.wait()
