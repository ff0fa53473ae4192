"""Start and stop a cluster of runtimes (several nodes) from Python.

:func:`start_cluster` starts one ``chimaera_runtime`` per node and returns a
:class:`Cluster` once every node answered: a client can attach to it and it
sees every other node alive. Two ways:

* ``local=N``: N nodes on this machine, node k on 127.0.0.(2+k) (every
  127.0.0.0/8 address answers on ``lo``), one shared port. Each node is a
  subprocess in its own session, its config and log in a temp directory.
* ``hosts=[...]`` / ``hostfile=...``: one node per remote host, started
  through ClusterShell over ssh (Debian package ``python3-clustershell``).
  Every host runs ``<python> -m chimaera start --daemon --config <file>``
  with ``CHI_NODE_ID=k`` (node ids are the order of the hosts, 0-based);
  the config is sent inside the command and written to ``remote_dir``
  (default ``/tmp/chimaera-cluster-<port>``) on that host, the log beside it.
  ``python`` defaults to this interpreter's path, so the hosts need the same
  installation at the same path (e.g. a shared file system). Readiness and
  stop go through ssh too (``chimaera status`` / ``chimaera stop --all-nodes``
  on the hosts), since a client attaches only to a node on its own machine.

On an HPC allocation the launcher is the batch system's, not this module:
``srun --ntasks-per-node=1 chimaera_runtime --config conf.yaml`` or
``mpirun -np N chimaera_runtime --config conf.yaml`` with ``networking.hosts``
(or ``networking.hostfile``) in conf.yaml and no ``node_id``: each runtime
takes its node id from SLURM_NODEID / SLURM_PROCID / OMPI_COMM_WORLD_RANK /
PMI_RANK.

Units: times in seconds (float), sizes in bytes or strings like "64m".

Thread-safety: a process is attached to one node at a time (see
:mod:`chimaera.client`); :meth:`Cluster.connect` and :meth:`Cluster.stop`
switch this process's connection, so call them from one thread (they take a
lock, but a client of the previous node becomes disconnected).
"""
from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from . import _core, _paths
from ._errors import ChimaeraError, RuntimeStartError, RuntimeUnavailableError
from .client import Client, connect
from .runtime import _yaml_value, free_port

_LOG_TAIL = 4000  # characters of a node's log quoted in errors
MAX_LOCAL_NODES = 253  # 127.0.0.2 .. 127.0.0.254


class ClusterStopError(ChimaeraError):
    """A node of a cluster did not stop cleanly: it exited with a non-zero
    code, had to be killed, or left its shared-memory segment.

    Attributes:
        results: one dict per node (see :meth:`Cluster.stop`).
    """

    def __init__(self, message: str, results: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.results = results


@dataclass
class Node:
    """One node of a :class:`Cluster`.

    Attributes:
        id: node id (index in the node table, 0-based).
        host: its address in the node table (127.0.0.2, ... for local nodes).
        port: its port.
        pid: the runtime's process id (on ``host`` for a remote node).
        log: path of its log (on ``host`` for a remote node).
        config: path of its YAML config (ditto).
        rc_file: file its exit code is written to (detached / remote nodes), or None.
    """

    id: int
    host: str
    port: int
    pid: int
    log: str
    config: str
    rc_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- helpers ------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _node_config(port: int, hosts: Sequence[str], node_id: int | None, workers: int, shm_size: str | int,
                 log_level: str, heartbeat_interval: str, peer_dead_after: str, rpc_timeout: str,
                 extra: dict[str, Any] | None) -> str:
    top: dict[str, Any] = {"workers": workers, "port": port, "shm_size": shm_size, "log_level": log_level}
    top.update(extra or {})
    lines = [f"{k}: {_yaml_value(v)}" for k, v in top.items() if v is not None]
    lines += ["networking:", f"  hosts: {_yaml_value(list(hosts))}"]
    if node_id is not None:
        lines.append(f"  node_id: {node_id}")
    lines += [f"  heartbeat_interval: {_yaml_value(heartbeat_interval)}",
              f"  peer_dead_after: {_yaml_value(peer_dead_after)}",
              f"  rpc_timeout: {_yaml_value(rpc_timeout)}"]
    return "\n".join(lines) + "\n"


def read_hostfile(path: str | os.PathLike) -> list[str]:
    """The hosts of a hostfile, in order: one per line, ``#`` comments,
    ``host`` or ``host:port``, bracket ranges like ``node[01-04]`` (expanded
    one ``[a-b]`` range per entry, zero padding kept).

    Raises: OSError (unreadable file), ValueError (no host in it)."""
    out: list[str] = []
    for raw in Path(path).read_text().splitlines():
        for entry in raw.split("#", 1)[0].split():
            m = re.fullmatch(r"(.+):(\d+)", entry)
            host, port = (m.group(1), m.group(2)) if m else (entry, "")
            out += [f"{h}:{port}" if port else h for h in _expand(host)]
    if not out:
        raise ValueError(f"{path}: no host in the hostfile")
    return out


def _expand(pattern: str) -> list[str]:
    m = re.fullmatch(r"(.*)\[(\d+)-(\d+)\](.*)", pattern)
    if not m:
        return [pattern]
    pre, a, b, post = m.groups()
    width = len(a) if a.startswith("0") else 0
    return [f"{pre}{i:0{width}d}{post}" for i in range(int(a), int(b) + 1)]


def _split_host(entry: str, default_port: int) -> tuple[str, int]:
    host, sep, port = entry.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (entry, default_port)


def _clustershell():
    try:
        from ClusterShell.Task import task_self  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeStartError(
            "starting nodes on remote hosts needs ClusterShell: install the Debian package "
            "python3-clustershell (apt-get install python3-clustershell)") from None
    return task_self


def _clush(commands: dict[str, str], ssh_options: str | None, timeout: float) -> dict[str, tuple[int | None, str]]:
    """Run commands[host] on each host over ssh (ClusterShell, in parallel);
    {host: (exit code or None on timeout / ssh failure, output)}."""
    task = _clustershell()()
    task.set_info("ssh_options", ssh_options or "")
    task.set_info("connect_timeout", max(1, int(min(timeout, 30))))
    task.set_info("fanout", 64)
    for host, cmd in commands.items():
        task.shell(cmd, nodes=host, timeout=timeout, stderr=False)
    task.resume()
    out: dict[str, tuple[int | None, str]] = {h: (None, "") for h in commands}
    for buf, nodes in task.iter_buffers():
        for n in nodes:
            out[str(n)] = (out[str(n)][0], bytes(buf).decode(errors="replace"))
    for rc, nodes in task.iter_retcodes():
        for n in nodes:
            out[str(n)] = (rc, out[str(n)][1])
    for n in task.iter_keys_timeout():
        out[str(n)] = (None, out[str(n)][1] + "\n(timed out)")
    return out


def _read_rc(rc_file: str | None, wait: float) -> int | None:
    if not rc_file:
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            text = Path(rc_file).read_text().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def _signal_node(pid: int, proc: subprocess.Popen | None, sig: int) -> None:
    """Send `sig` to a node's runtime. `pid` is the runtime, or, for a
    detached node that has not answered yet, its sh parent (`proc`, which
    this process started in a session of its own): then the signal goes to
    the sh's children (the runtime; SIGTERM to the sh itself would orphan the
    runtime with its segment and lose the exit code the sh records), and
    SIGKILL goes to the whole process group."""
    targets: set[int] = {pid} if pid > 0 else set()
    if proc is not None:
        if sig == signal.SIGKILL:
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            targets.discard(proc.pid)
            targets.update(int(c) for c in children)
        else:
            targets.add(proc.pid)
    for target in targets:
        try:
            os.kill(target, sig)
        except (ProcessLookupError, PermissionError):
            pass


def reap_node(pid: int, port: int, host: str, rc_file: str | None, timeout: float,
              proc: subprocess.Popen | None = None) -> dict[str, Any]:
    """Wait up to ``timeout`` s for a node's process to exit (SIGKILL after
    that), then check its segment (reclaimed if its runtime died).
    Returns {"rc": exit code or None if unknown, "killed": bool, "segment": 'absent'|'dead'|'alive'}."""
    deadline = time.monotonic() + timeout
    killed = False
    while pid > 0 and _pid_alive(pid):
        if time.monotonic() > deadline:
            _signal_node(pid, proc, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.01)
    rc: int | None = None
    if proc is not None:
        try:
            rc = proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    if rc_file:  # the wrapper writes the runtime's own code
        rc = _read_rc(rc_file, 2.0)
    while _core.segment_state(port, host) == "alive" and time.monotonic() < deadline + 2:
        time.sleep(0.01)
    seg = _core.segment_state(port, host)
    if seg == "dead":
        _core.reclaim_segment(port, host)
    return {"rc": rc, "killed": killed, "segment": seg}


def _reap_main() -> None:  # remote side of Cluster.stop (run through ssh)
    pid, port, host, rc_file, timeout = sys.argv[1:6]
    print(json.dumps(reap_node(int(pid), int(port), host, rc_file or None, float(timeout))))


def _finalize(procs: list[subprocess.Popen], port: int, hosts: list[str], tmpdir: str | None) -> None:
    """At interpreter exit / garbage collection: SIGTERM, wait, SIGKILL, reclaim."""
    try:
        if _core.is_connected() and _core.connected_port() == port:
            _core.disconnect()
    except Exception:  # noqa: BLE001 - best effort
        pass
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p, host in zip(procs, hosts):
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        try:
            _core.reclaim_segment(port, host)
        except Exception:  # noqa: BLE001
            pass
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


# -- the cluster --------------------------------------------------------------

class Cluster:
    """A cluster of runtimes started by :func:`start_cluster` (or found again
    from its state with :meth:`from_state`).

    Attributes:
        port: the nodes' port (local nodes share it, one address each).
        nodes: list of :class:`Node` (id, host, port, pid, log, config).
        mode: "local" or "ssh".
        client: a :class:`chimaera.Client` attached to node 0 (local clusters;
            None for remote ones).
        dir: local directory of the configs and logs (local clusters).

    A context manager: leaving the ``with`` block calls :meth:`stop`. Nodes
    started by this process are also stopped when the object is garbage
    collected or at interpreter exit (``weakref.finalize``), unless
    ``detached``.
    """

    def __init__(self, port: int, nodes: list[Node], mode: str, *, dir: str | None = None,
                 procs: list[subprocess.Popen] | None = None, detached: bool = False,
                 ssh_options: str | None = None, python: str | None = None, keep_dir: bool = False) -> None:
        self.port = port
        self.nodes = nodes
        self.mode = mode
        self.dir = dir
        self.ssh_options = ssh_options
        self.python = python or sys.executable
        self.client: Client | None = None
        self._procs = procs or []
        self._lock = threading.RLock()
        self._stopped = False
        self._keep_dir = keep_dir or detached
        self._finalizer = None
        if self._procs and not detached:
            self._finalizer = weakref.finalize(self, _finalize, list(self._procs), port,
                                               [n.host for n in nodes], None if self._keep_dir else dir)

    # -- state (for the CLI) -------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """A JSON-able description (port, mode, nodes, ...) for :meth:`from_state`."""
        return {"port": self.port, "mode": self.mode, "dir": self.dir, "ssh_options": self.ssh_options,
                "python": self.python, "nodes": [n.to_dict() for n in self.nodes]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Cluster":
        """The cluster described by :meth:`to_state` (its processes are not
        children of this one: :meth:`stop` polls their pids)."""
        return cls(int(state["port"]), [Node(**n) for n in state["nodes"]], state["mode"], dir=state.get("dir"),
                   ssh_options=state.get("ssh_options"), python=state.get("python"), keep_dir=True)

    # -- access ----------------------------------------------------------------
    def connect(self, k: int) -> Client:
        """Attach this process to node ``k`` (local clusters) and return the
        Client (the previous connection of this process is detached).
        Raises IndexError, RuntimeUnavailableError (node down, or remote)."""
        node = self.nodes[k]
        if self.mode != "local":
            raise RuntimeUnavailableError(f"node {k} ({node.host}) is remote: a client attaches only to a node "
                                          "on its own machine")
        with self._lock:
            return connect(node.port, host=node.host)

    def log(self, k: int) -> str:
        """Node ``k``'s log so far ('' if gone; for a remote node, its last
        4000 characters fetched over ssh)."""
        node = self.nodes[k]
        if self.mode == "local":
            try:
                return Path(node.log).read_text(errors="replace")
            except OSError:
                return ""
        host = _split_host(node.host, node.port)[0]
        return _clush({host: f"tail -c {_LOG_TAIL} {shlex.quote(node.log)}"}, self.ssh_options, 30)[host][1]

    def status(self) -> dict[str, Any]:
        """The cluster as a live node sees it: that node's status dict (see
        :meth:`Client.status`) plus "nodes" (:meth:`Client.nodes`).
        Raises RuntimeUnavailableError when no node answers."""
        if self.mode == "local":
            with self._lock:
                for n in self.nodes:
                    try:
                        c = connect(n.port, host=n.host)
                        st = c.status()
                        st["nodes"] = c.nodes
                        return st
                    except RuntimeUnavailableError:
                        continue
            raise RuntimeUnavailableError(f"no node of the cluster on port {self.port} answers")
        for n in self.nodes:
            ssh_host = _split_host(n.host, n.port)[0]
            rc, out = _clush({ssh_host: f"{shlex.quote(self.python)} -m chimaera status --json --port {n.port} "
                                        f"--host {shlex.quote(ssh_host)}"}, self.ssh_options, 30)[ssh_host]
            if rc == 0:
                return json.loads(out.strip().splitlines()[-1])
        raise RuntimeUnavailableError(f"no node of the cluster on port {self.port} answers")

    # -- stop ----------------------------------------------------------------
    def stop(self, timeout: float = 10.0, check: bool = True) -> list[dict[str, Any]]:
        """Stop every node: the admin stop of all nodes through a live node
        (SIGTERM to every local node if none answers), then wait up to
        ``timeout`` s for every process (SIGKILL after that) and check each
        node's shared-memory segment is gone (a dead one is reclaimed).

        Returns one dict per node: id, host, rc (exit code; None if unknown),
        killed, segment ('absent' when clean). Idempotent (a second call
        returns []).

        Raises:
            ClusterStopError (if ``check``): a node exited non-zero, was
                killed, or left its segment; the message names each one.
        """
        with self._lock:
            if self._stopped:
                return []
            self._stopped = True
            if self._finalizer is not None:
                self._finalizer.detach()
            self.client = None
            results = self._stop_local(timeout) if self.mode == "local" else self._stop_remote(timeout)
        bad = [r for r in results if r["rc"] not in (0, None) or r["killed"] or r["segment"] != "absent"]
        if not bad and self.dir and not self._keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if check and bad:
            raise ClusterStopError("nodes did not stop cleanly: " + "; ".join(
                f"node {r['id']} ({r['host']}:{self.port}): exit code {r['rc']}"
                + (", killed after the timeout" if r["killed"] else "")
                + (f", segment {r['segment']}" if r["segment"] != "absent" else "") for r in bad), results)
        return results

    def _abort_local(self, timeout: float) -> list[dict[str, Any]]:
        """A start that failed: SIGTERM (a clean stop) to every node this
        process started, without the admin broadcast (that would wait for the
        node that failed until rpc_timeout), then reap them like stop()."""
        with self._lock:
            self._stopped = True
            if self._finalizer is not None:
                self._finalizer.detach()
            self.client = None
            return self._stop_local(timeout, admin=False)

    def _stop_local(self, timeout: float, admin: bool = True) -> list[dict[str, Any]]:
        sent = False
        for n in self.nodes if admin else []:
            if not _pid_alive(n.pid):
                continue
            try:
                _core.connect(n.port, n.host)
                _core.stop_runtime(True)
                sent = True
                break
            except ChimaeraError:
                continue
            finally:
                if _core.is_connected():
                    _core.disconnect()
        procs = self._procs if len(self._procs) == len(self.nodes) else [None] * len(self.nodes)
        if not sent:  # no node answers (e.g. a start that failed before they were up): signal each one
            for n, p in zip(self.nodes, procs):
                if _pid_alive(n.pid) or (p is not None and p.poll() is None):
                    _signal_node(n.pid, p, signal.SIGTERM)
        out = []
        deadline = time.monotonic() + timeout
        for n, p in zip(self.nodes, procs):
            r = reap_node(n.pid, n.port, n.host, n.rc_file, max(0.5, deadline - time.monotonic()), p)
            out.append({"id": n.id, "host": n.host, **r})
        return out

    def _stop_remote(self, timeout: float) -> list[dict[str, Any]]:
        py = shlex.quote(self.python)
        first = self.nodes[0]
        h0 = _split_host(first.host, first.port)[0]
        _clush({h0: f"{py} -m chimaera stop --all-nodes --port {first.port} --host {shlex.quote(h0)} "
                    f"--timeout {timeout}"}, self.ssh_options, timeout + 30)
        cmds = {}
        for n in self.nodes:
            h = _split_host(n.host, n.port)[0]
            cmds[h] = (f"{py} -c 'from chimaera.cluster import _reap_main; _reap_main()' {n.pid} {n.port} "
                       f"{shlex.quote(h)} {shlex.quote(n.rc_file or '')} {timeout}")
        res = _clush(cmds, self.ssh_options, timeout + 30)
        out = []
        for n in self.nodes:
            rc, text = res[_split_host(n.host, n.port)[0]]
            try:
                r = json.loads(text.strip().splitlines()[-1])
            except (ValueError, IndexError):
                r = {"rc": None, "killed": False, "segment": f"unknown (ssh: exit {rc}: {text.strip()[-300:]})"}
            out.append({"id": n.id, "host": n.host, **r})
        return out

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop(check=exc_type is None)  # do not hide the block's own exception

    def __repr__(self) -> str:
        return f"<chimaera.Cluster {self.mode} port={self.port} nodes={len(self.nodes)}>"


def _fail(node: Node, why: str, log: str) -> RuntimeStartError:
    return RuntimeStartError(f"node {node.id} ({node.host}:{node.port}) {why}; its log {node.log}:\n"
                             f"{log[-_LOG_TAIL:]}")


def _start_local(n: int, port: int, config: dict[str, Any], node_config: dict[int, dict[str, Any]],
                 timeout: float, detached: bool, dir: str | None, executable: str | os.PathLike | None,
                 env: dict[str, str] | None) -> Cluster:
    if not 1 <= n <= MAX_LOCAL_NODES:
        raise ValueError(f"local must be 1..{MAX_LOCAL_NODES}, not {n}")
    exe = Path(executable) if executable else _paths.runtime_executable()
    hosts = [f"127.0.0.{2 + k}" for k in range(n)]
    for h in hosts:
        if _core.segment_state(port, h) == "alive":
            raise RuntimeStartError(f"a runtime already serves port {port} on {h}")
    d = Path(dir) if dir else Path(tempfile.mkdtemp(prefix=f"chimaera-cluster-{port}-"))
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_env = dict(os.environ if env is None else env)
    repo = [str(_paths.module_dir(exe))] + ([run_env["CHI_REPO_PATH"]] if run_env.get("CHI_REPO_PATH") else [])
    run_env["CHI_REPO_PATH"] = ":".join(repo)
    for k in ("CHI_SERVER_CONF", "CHI_NODE_ID", "CHI_HOST"):
        run_env.pop(k, None)
    nodes: list[Node] = []
    procs: list[subprocess.Popen] = []
    for k, host in enumerate(hosts):
        conf, log = d / f"node{k}.yaml", d / f"node{k}.log"
        extra = {**config.get("extra", {}), **node_config.get(k, {})}
        conf.write_text(_node_config(port, hosts, k, config["workers"], config["shm_size"], config["log_level"],
                                     config["heartbeat_interval"], config["peer_dead_after"],
                                     config["rpc_timeout"], extra))
        cmd = [str(exe), "--config", str(conf)]
        rc_file = None
        if detached:  # a tiny sh parent outlives this process and records the runtime's exit code
            rc_file = str(d / f"node{k}.rc")
            Path(rc_file).unlink(missing_ok=True)
            cmd = ["/bin/sh", "-c", '"$@"; echo $? > ' + shlex.quote(rc_file), "chimaera-node", *cmd]
        with open(log, "wb") as f:
            procs.append(subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=run_env, start_new_session=True))
        nodes.append(Node(k, host, port, procs[-1].pid, str(log), str(conf), rc_file))
    cl = Cluster(port, nodes, "local", dir=str(d), procs=procs, detached=detached, keep_dir=dir is not None)
    try:
        _wait_local(cl, procs, timeout, detached)
        cl.client = connect(port, host=hosts[0])
    except BaseException as e:
        logs = [cl.log(k) for k in range(n)]
        cl._keep_dir = True
        cl._procs = procs
        try:
            cl._abort_local(timeout=5)
        except Exception:  # noqa: BLE001 - the start error matters
            pass
        if isinstance(e, _NodeFailed):
            raise _fail(nodes[e.k], e.why, logs[e.k]) from None
        raise
    return cl


class _NodeFailed(Exception):
    def __init__(self, k: int, why: str) -> None:
        self.k, self.why = k, why


def _wait_local(cl: Cluster, procs: list[subprocess.Popen], timeout: float, detached: bool) -> None:
    deadline = time.monotonic() + timeout

    def check(k: int, what: str) -> None:
        for j, p in enumerate(procs):  # any node that exited fails the start, not only node k
            rc = p.poll()
            if rc is not None:
                if detached:
                    rc = _read_rc(cl.nodes[j].rc_file, 0.5)
                raise _NodeFailed(j, f"exited with code {rc}")
        if time.monotonic() > deadline:
            raise _NodeFailed(k, f"{what} in {timeout} s")

    for k, node in enumerate(cl.nodes):
        delay = 0.002
        while True:
            check(k, "did not accept a client")
            try:
                c = connect(node.port, host=node.host)
                st = c.status()
                if not detached and int(st["pid"]) != node.pid:
                    raise _NodeFailed(k, f"is not ours: pid {st['pid']} serves {node.host}:{node.port}")
                node.pid = int(st["pid"])  # detached: the runtime, not its sh parent
                break
            except RuntimeUnavailableError:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        while True:
            dead = [x["id"] for x in c.nodes if not x["alive"]]
            if not dead:
                break
            check(k, f"did not see nodes {dead} alive")
            time.sleep(0.01)


def _start_remote(hosts: list[str], port: int, config: dict[str, Any], node_config: dict[int, dict[str, Any]],
                  timeout: float, ssh_options: str | None, python: str | None, remote_dir: str | None) -> Cluster:
    _clustershell()
    py = python or sys.executable
    rdir = remote_dir or f"/tmp/chimaera-cluster-{port}"
    entries = [_split_host(h, port) for h in hosts]
    if len({h for h, _ in entries}) != len(entries):
        raise ValueError("hosts: each host may appear once (one node per host)")
    nodes, cmds = [], {}
    for k, (host, nport) in enumerate(entries):
        conf, log, rc_file = f"{rdir}/node{k}.yaml", f"{rdir}/node{k}.log", f"{rdir}/node{k}.rc"
        extra = {**config.get("extra", {}), **node_config.get(k, {})}
        text = _node_config(nport, hosts, k, config["workers"], config["shm_size"], config["log_level"],
                            config["heartbeat_interval"], config["peer_dead_after"], config["rpc_timeout"], extra)
        b64 = base64.b64encode(text.encode()).decode()
        q = shlex.quote
        cmds[host] = (f"mkdir -p -m 700 {q(rdir)} && echo {b64} | base64 -d > {q(conf)} && rm -f {q(rc_file)} && "
                      f"CHI_NODE_ID={k} CHI_HOST={q(host)} {q(py)} -m chimaera start --daemon --config {q(conf)} "
                      f"--port {nport} --host {q(host)} --log {q(log)} --exit-code-file {q(rc_file)} "
                      f"--timeout {timeout}")
        nodes.append(Node(k, host if nport == port else f"{host}:{nport}", nport, 0, log, conf, rc_file))
    cl = Cluster(port, nodes, "ssh", ssh_options=ssh_options, python=py, keep_dir=True)
    deadline = time.monotonic() + timeout
    try:
        res = _clush(cmds, ssh_options, timeout + 10)
        for k, (host, _) in enumerate(entries):
            rc, out = res[host]
            m = re.search(r"pid (\d+)", out)
            if rc != 0 or not m:
                raise RuntimeStartError(f"node {k} ({host}:{entries[k][1]}) did not start (exit code {rc} of "
                                        f"`chimaera start` through ssh); its output and log:\n{out[-_LOG_TAIL:]}")
            nodes[k].pid = int(m.group(1))
        pending = {h: (k, p) for k, (h, p) in enumerate(entries)}
        while pending:
            st = _clush({h: f"{shlex.quote(py)} -m chimaera status --json --port {p} --host {shlex.quote(h)}"
                         for h, (k, p) in pending.items()}, ssh_options, 30)
            for h, (rc, out) in st.items():
                try:
                    if rc == 0 and all(x["alive"] for x in json.loads(out.strip().splitlines()[-1])["nodes"]):
                        del pending[h]
                except (ValueError, IndexError, KeyError):
                    pass
            if pending and time.monotonic() > deadline:
                k, p = next(iter(pending.values()))
                raise RuntimeStartError(f"node {k} ({nodes[k].host}) did not see every node alive in {timeout} s; "
                                        f"its log:\n{cl.log(k)[-_LOG_TAIL:]}")
            if pending:
                time.sleep(0.2)
    except BaseException:
        try:
            cl.stop(timeout=5, check=False)
        except Exception:  # noqa: BLE001
            pass
        raise
    return cl


def start_cluster(local: int | None = None, hosts: Sequence[str] | None = None, hostfile: str | None = None,
                  port: int | None = None, workers: int = 1, shm_size: str | int = "64m", timeout: float = 30.0,
                  *, log_level: str = "info", heartbeat_interval: str = "100ms", peer_dead_after: str = "1s",
                  rpc_timeout: str = "5s", config: dict[str, Any] | None = None,
                  node_config: dict[int, dict[str, Any]] | None = None, detached: bool = False,
                  dir: str | None = None, executable: str | os.PathLike | None = None,
                  env: dict[str, str] | None = None, ssh_options: str | None = None, python: str | None = None,
                  remote_dir: str | None = None) -> Cluster:
    """Start a cluster and return once every node answered.

    Give exactly one of:
        local: N nodes on this machine, node k on 127.0.0.(2+k).
        hosts: remote hosts (``host`` or ``host:port``), node k on hosts[k],
            started through ClusterShell over ssh (see the module docstring).
        hostfile: a file of hosts (see :func:`read_hostfile`), as ``hosts``.

    Other arguments: ``port`` (default: a free one, :func:`chimaera.runtime.free_port`),
    ``workers`` (threads per node), ``shm_size`` (per node: bytes or "64m"),
    ``timeout`` (seconds for every node to answer), ``log_level``,
    ``heartbeat_interval`` / ``peer_dead_after`` / ``rpc_timeout`` (duration
    strings of the ``networking`` config), ``config`` (extra top-level config
    keys for every node), ``node_config`` ({node id: extra keys} for some),
    ``detached`` (local: the nodes outlive this process: no finalizer; each
    node's exit code goes to ``<dir>/node<k>.rc``; used by ``chimaera
    cluster start``), ``dir`` (local: configs and logs; default a temp dir,
    removed after a clean stop), ``executable``, ``env`` (local), and for
    remote hosts ``ssh_options`` (e.g. "-p 2222 -i key"), ``python`` (the
    interpreter on the hosts, default this one's path) and ``remote_dir``.

    "Answered" means a client can attach to the node (remote: ``chimaera
    status`` on its host succeeds) and it sees every other node alive.

    Returns:
        a :class:`Cluster`; local ones have ``client`` attached to node 0.

    Raises:
        RuntimeStartError: a node exited or did not answer in ``timeout``; the
            message names it ("node k (host:port)") and quotes its log's tail.
            Every node already started is stopped first.
        ValueError: not exactly one of local / hosts / hostfile, or bad values.
        FileNotFoundError: no ``chimaera_runtime`` found.
    """
    if sum(x is not None for x in (local, hosts, hostfile)) != 1:
        raise ValueError("give exactly one of local=, hosts=, hostfile=")
    port = int(port) if port is not None else free_port()
    conf = {"workers": workers, "shm_size": shm_size, "log_level": log_level,
            "heartbeat_interval": heartbeat_interval, "peer_dead_after": peer_dead_after,
            "rpc_timeout": rpc_timeout, "extra": dict(config or {})}
    if local is not None:
        return _start_local(int(local), port, conf, dict(node_config or {}), timeout, detached, dir, executable, env)
    host_list = list(hosts) if hosts is not None else read_hostfile(hostfile)  # type: ignore[arg-type]
    if not host_list:
        raise ValueError("hosts: empty")
    return _start_remote(host_list, port, conf, dict(node_config or {}), timeout, ssh_options, python, remote_dir)
