"""Several nodes from Python: two runtime processes on 127.0.0.2 and 127.0.0.3
(one port), a client attached to one of them; remote tasks through the
remote queue look exactly like local ones (futures, await, as_completed,
batches); an unreachable node raises NodeUnreachableError naming it; the CLI
shows the nodes and stops the whole cluster."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import chimaera
from chimaera import _core, _paths
from chimaera.runtime import free_port
from conftest import child_env

HOSTS = ["127.0.0.2", "127.0.0.3"]
HOSTS3 = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


class LocalNodes:
    """N runtime processes forming one cluster on loopback addresses."""

    def __init__(self, n: int = 2) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chi-cluster-"))
        self.procs: list[subprocess.Popen] = []
        exe = _paths.runtime_executable()
        env = dict(os.environ, CHI_REPO_PATH=str(_paths.module_dir(exe)))
        env.pop("CHI_SERVER_CONF", None)
        hosts = HOSTS3[:n]
        for k in range(n):
            conf = self.dir / f"node{k}.yaml"
            conf.write_text(f"workers: 1\nport: {self.port}\nshm_size: 64m\nlog_level: info\n"
                            f"networking:\n  hosts: [{', '.join(hosts)}]\n  node_id: {k}\n"
                            "  heartbeat_interval: 100ms\n  peer_dead_after: 500ms\n  rpc_timeout: 5s\n")
            with open(self.dir / f"node{k}.log", "wb") as log:
                self.procs.append(subprocess.Popen([str(exe), "--config", str(conf)], stdout=log,
                                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                                   start_new_session=True))
        try:
            self._wait_ready(hosts)
        except BaseException:
            self.close()  # never leave the processes behind
            raise

    def _wait_ready(self, hosts: list[str]) -> None:
        deadline = time.monotonic() + 15
        for k in range(len(hosts)):
            while True:  # serving (its segment exists a little before)
                assert self.procs[k].poll() is None, self.log(k)
                assert time.monotonic() < deadline, self.log(k)
                try:
                    c = chimaera.connect(self.port, host=hosts[k])
                    break
                except chimaera.RuntimeUnavailableError:
                    time.sleep(0.01)
            # Every node sees every other one alive.
            while not all(x["alive"] for x in c.nodes):
                assert time.monotonic() < deadline, self.log(k)
                time.sleep(0.01)

    def log(self, k: int) -> str:
        return (self.dir / f"node{k}.log").read_text(errors="replace")

    def close(self) -> None:
        chimaera.disconnect()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for k, p in enumerate(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            _core.reclaim_segment(self.port, HOSTS3[k])


@pytest.fixture
def nodes():
    c = LocalNodes(2)
    try:
        yield c
    finally:
        c.close()


def pool_everywhere(client: chimaera.Client, name: str) -> chimaera.Pool:
    return client.create_pool(name, "small_message")


def test_remote_tasks_look_like_local_ones(nodes):
    c = chimaera.connect(nodes.port, host=HOSTS[0])
    assert [n["state"] for n in c.nodes] == ["self", "alive"]
    assert c.nodes[1]["address"] == f"{HOSTS[1]}:{nodes.port}"
    pool = pool_everywhere(c, "p")
    pool.md(node=1)
    pool.md(node=0)
    assert pool.md_async(node=1).result(timeout=5) is None
    futs = pool.submit_batch(200, node=1)
    assert len([f for f in chimaera.as_completed(futs, timeout=10)]) == 200
    assert all(f.code == 0 for f in futs)
    assert pool.md_batch(20000, window=256, node=1) == 20000

    async def main():
        await asyncio.gather(*(pool.md_async(node=1) for _ in range(50)))
    asyncio.run(main())


def test_remote_errors_and_unreachable_node(nodes):
    c = chimaera.connect(nodes.port, host=HOSTS[0])
    only0 = c.create_pool("only0", "small_message", nodes=[0])
    with pytest.raises(chimaera.TaskError) as e:
        only0.md(node=1)
    assert e.value.code == chimaera.TaskErrorCode.BAD_ARGUMENT
    assert "has no container on node 1 (its containers are on nodes [0])" in str(e.value)
    pool = pool_everywhere(c, "p")
    nodes.procs[1].kill()
    nodes.procs[1].wait()
    t0 = time.monotonic()
    with pytest.raises(chimaera.NodeUnreachableError) as e:
        pool.md(node=1)
    assert time.monotonic() - t0 < 0.5 + 1.5
    assert isinstance(e.value, chimaera.TaskError)
    assert e.value.code == chimaera.TaskErrorCode.NODE_UNREACHABLE
    assert f"node 1 ({HOSTS[1]}:{nodes.port})" in str(e.value)
    f = pool.md_async(node=1)
    assert isinstance(f.exception(timeout=5), chimaera.NodeUnreachableError)
    pool.md(node=0)  # this node serves on
    assert [n["state"] for n in c.nodes] == ["self", "dead"]


def test_connect_to_one_of_several_nodes_needs_a_host(nodes):
    with pytest.raises(chimaera.RuntimeUnavailableError, match="CHI_HOST"):
        chimaera.connect(nodes.port, host="")
    c = chimaera.connect(nodes.port, host=HOSTS[1])
    assert c.status()["node_id"] == 1
    assert c.status()["host"] == HOSTS[1]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chimaera", *args], env=child_env(), capture_output=True,
                          text=True, timeout=timeout)


def test_cli_status_shows_nodes_and_stop_all_nodes_stops_every_node(nodes):
    chimaera.disconnect()
    r = cli("status", "--port", str(nodes.port), "--host", HOSTS[0])
    assert r.returncode == 0, r.stderr
    assert "node 0 of 2" in r.stdout
    assert f"{HOSTS[1]}:{nodes.port}" in r.stdout and "alive" in r.stdout
    r = cli("stop", "--port", str(nodes.port), "--host", HOSTS[1], "--all-nodes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 of 2 nodes" in r.stdout
    for k, p in enumerate(nodes.procs):
        assert p.wait(10) == 0, nodes.log(k)
        assert _core.segment_state(nodes.port, HOSTS[k]) == "absent"


def test_queries_keys_and_broadcast_from_python():
    """Three nodes: pools span them (create_pool(nodes=...)), key= reaches one
    container from every node, md_broadcast runs on every container, and a
    broadcast with a node down raises NodeUnreachableError naming it."""
    c3 = LocalNodes(3)
    try:
        c = chimaera.connect(c3.port, host=HOSTS3[0])
        pool = c.create_pool("q", "small_message")
        assert pool.nodes() == [0, 1, 2]
        assert pool.md_broadcast() == [0, 1, 2]
        part = c.create_pool("part", "small_message", nodes=[2, 1])
        assert part.nodes() == [2, 1]
        part.md(container=0)
        part.md(key="some/file")
        zip_ = c.create_pool("zip", "compressor")
        data = b"chimaera " * 5000
        packed, crc = zip_.compress(data, key="some/file")
        assert zip_.decompress(packed, len(data), key="some/file") == (data, crc)
        assert zip_.compress_async(data, node=2).result(timeout=10) == (packed, crc)
        with pytest.raises(ValueError, match="at most one of"):
            pool.md(node=1, key="x")
        with pytest.raises(TypeError):
            pool.md(key=1.5)
        with pytest.raises(chimaera.TaskError, match="pool 'part' has no container on node 0"):
            part.md(node=0)
        # Keys work alike from a client attached to another node.
        where = [zip_.compress(data, key=k) for k in ("a", "b", "c")]
        chimaera.connect(c3.port, host=HOSTS3[1])
        assert [zip_.compress(data, key=k) for k in ("a", "b", "c")] == where
        chimaera.connect(c3.port, host=HOSTS3[0])
        # Node 2 killed: a broadcast fails naming it.
        c3.procs[2].kill()
        c3.procs[2].wait()
        with pytest.raises(chimaera.NodeUnreachableError, match=r"1 of 3 replicas failed: container 2 \(node 2\)"):
            pool.md_broadcast()

        async def main():
            await asyncio.gather(*(pool.md_async(node=1) for _ in range(20)))
        asyncio.run(main())
    finally:
        c3.close()
