"""The ``chimaera`` command line: start, stop and inspect runtimes and clusters
(``chimaera cluster start|stop|status``, see :mod:`chimaera.cluster`).

Exit codes: 0 success; 1 the operation failed (no runtime, start failure,
timeout); 2 usage errors (argparse) and features not available yet.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from . import _core, _paths
from ._errors import ChimaeraError, RuntimeUnavailableError
from .runtime import write_config


def _port(args: argparse.Namespace) -> int:
    return args.port if args.port is not None else _core.default_port()


def _add_port(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", "-p", type=int, default=None,
                   help="runtime port (default: $CHI_PORT or 9413)")


def _add_host(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None,
                   help="node of a cluster, when several run on this machine with one port: its node-table "
                        "entry, e.g. 127.0.0.3 (default: $CHI_HOST, else the one node on the port)")


def _host(args: argparse.Namespace) -> str:
    return args.host if args.host is not None else os.environ.get("CHI_HOST", "")


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, e.g. an unreaped --daemon runtime, counts as gone)."""
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


def cmd_start(args: argparse.Namespace) -> int:
    exe = _paths.runtime_executable()
    port = _port(args)
    env = dict(os.environ)
    repo = [str(_paths.module_dir(exe))] + ([env["CHI_REPO_PATH"]] if env.get("CHI_REPO_PATH") else [])
    env["CHI_REPO_PATH"] = ":".join(repo)
    if args.config:
        conf = Path(args.config)
        if not conf.is_file():
            print(f"chimaera start: no such config file: {conf}", file=sys.stderr)
            return 1
    else:
        rundir = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"chimaera-{os.getuid()}"
        rundir.mkdir(mode=0o700, parents=True, exist_ok=True)
        conf = rundir / f"runtime-{port}.yaml"
        write_config(conf, workers=args.workers, port=port, shm_size=args.shm_size,
                     lanes_per_queue=args.lanes_per_queue, queue_depth=args.queue_depth,
                     module_path=args.module_path or None, log_level=args.log_level)
    cmd = [str(exe), "--config", str(conf)]
    if args.daemon and args.exit_code_file:  # a tiny sh parent records the runtime's exit code
        Path(args.exit_code_file).unlink(missing_ok=True)
        cmd = ["/bin/sh", "-c", '"$@"; echo $? > ' + shlex.quote(args.exit_code_file), "chimaera-node", *cmd]
    if not args.daemon:
        os.execve(str(exe), cmd, env)  # foreground: the runtime replaces this process
    log_path = Path(args.log) if args.log else conf.with_suffix(".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"chimaera start: the runtime exited with code {proc.returncode}; log {log_path}:\n"
                  + log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1
        try:
            _core.connect(port, _host(args))
            pid = int(_core.status()["pid"])  # the runtime's (not the --exit-code-file wrapper's)
            _core.disconnect()
            print(f"chimaera runtime started: port {port}, pid {pid}, log {log_path}")
            return 0
        except RuntimeUnavailableError:
            time.sleep(0.02)
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: also the runtime under an --exit-code-file sh
    except ProcessLookupError:
        pass
    print(f"chimaera start: the runtime did not become ready in {args.timeout} s; log {log_path}",
          file=sys.stderr)
    return 1


def cmd_stop(args: argparse.Namespace) -> int:
    port = _port(args)
    try:
        _core.connect(port, _host(args))
    except RuntimeUnavailableError as e:
        print(f"chimaera stop: {e}", file=sys.stderr)
        return 1
    pid = int(_core.status()["pid"])
    nodes = _core.nodes() if args.all_nodes else []
    stopped = _core.stop_runtime(args.all_nodes)
    _core.disconnect()
    deadline = time.monotonic() + args.timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            if args.force:
                os.kill(pid, signal.SIGKILL)
                print(f"chimaera stop: runtime pid {pid} killed after {args.timeout} s", file=sys.stderr)
                return 1
            print(f"chimaera stop: runtime pid {pid} still running after {args.timeout} s", file=sys.stderr)
            return 1
        time.sleep(0.02)
    if args.all_nodes and nodes:
        # The others accepted before this node stopped; wait for the ones on
        # this machine to be gone (their segments unlinked).
        for n in nodes:
            host, _, nport = n["address"].rpartition(":")
            while _core.segment_state(int(nport), host) == "alive" and time.monotonic() < deadline:
                time.sleep(0.02)
        print(f"chimaera cluster stopped: {stopped} of {len(nodes)} nodes accepted the stop")
        return 0 if stopped == len(nodes) else 1
    print(f"chimaera runtime on port {port} (pid {pid}) stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    port = _port(args)
    try:
        _core.connect(port, _host(args))
        st = dict(_core.status())
        st["nodes"] = list(_core.nodes())
        _core.disconnect()
    except RuntimeUnavailableError as e:
        state = _core.segment_state(port)
        hint = " (a dead runtime left its shared memory; the next start on this port reclaims it)" \
            if state == "dead" else ""
        print(f"chimaera status: {e}{hint}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(st))
    else:
        print(f"port {st['port']}  pid {st['pid']}  state {st['state']}  workers {st['num_workers']}")
        if st["nodes"]:
            print(f"  node {st['node_id']} of {len(st['nodes'])}:")
            for n in st["nodes"]:
                heard = f"{n['ms_since_heard']} ms ago" if n["ms_since_heard"] >= 0 else "never"
                why = f"  ({n['reason']})" if n["reason"] else ""
                print(f"    node {n['id']:>3}  {n['address']:<22} {n['state']:<10} incarnation {n['incarnation']:<16} "
                      f"heard {heard:<12} queued {n['load']} us  in flight {n['in_flight']}{why}")
        for i, n in enumerate(st["tasks_completed"]):
            print(f"  worker {i}: {n} tasks completed")
        print(f"  process queue: {sum(st['queue_depths'])} tasks waiting in {len(st['queue_depths'])} lanes")
        for p in st["pools"]:
            where = " ".join(f"{c}->{nd}" for c, nd in enumerate(p.get("nodes") or []))
            print(f"  pool {p['id']:>4}  {p['name']:<24} {p['module']:<28} containers->nodes: {where}")
        for m in st["modules"]:
            print(f"  module {m['name']:<30} {m['path']}")
    return 0


# -- chimaera cluster start|stop|status ---------------------------------------

CLUSTER_EPILOG = """\
examples:
  chimaera cluster start --local 3             # 3 nodes on 127.0.0.2..127.0.0.4, one free port
  chimaera cluster status --port P [--json]
  chimaera cluster stop --port P
  chimaera cluster start --hosts n1,n2 --port P [--ssh-options "-p 2222"]   # via ClusterShell + ssh
  chimaera cluster start --hostfile hosts.txt --port P

The cluster is recorded in $XDG_RUNTIME_DIR (else /tmp)/chimaera-<uid>/cluster-<port>.json, so
`stop` and `status` need only --port (or nothing, when one cluster is recorded); local nodes'
configs and logs are in .../chimaera-<uid>/cluster-<port>/ (removed by a clean stop). Remote hosts
(--hosts/--hostfile) need the Debian package python3-clustershell here, ssh access without a
password, and the same Python installation at the same path on every host (--python).

On an HPC allocation let the batch system start the nodes; each takes its node id from
SLURM_NODEID / SLURM_PROCID / OMPI_COMM_WORLD_RANK / PMI_RANK (put networking.hosts or
networking.hostfile in conf.yaml and no node_id):
  srun --ntasks-per-node=1 chimaera_runtime --config conf.yaml
  mpirun -np N chimaera_runtime --config conf.yaml     (--oversubscribe for several per machine)
"""


def _rundir() -> Path:
    d = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"chimaera-{os.getuid()}"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def cluster_state_path(port: int) -> Path:
    """Where `chimaera cluster start` records the cluster on `port`."""
    return _rundir() / f"cluster-{port}.json"


def _cluster_port(args: argparse.Namespace) -> int:
    if args.port is not None:
        return args.port
    recorded = sorted(_rundir().glob("cluster-*.json"))
    if len(recorded) == 1:
        return int(recorded[0].stem.split("-", 1)[1])
    return _core.default_port()


def _hosts_arg(args: argparse.Namespace) -> list[str] | None:
    if getattr(args, "hosts", None):
        return [h for h in args.hosts.split(",") if h]
    if getattr(args, "hostfile", None):
        from .cluster import read_hostfile
        return read_hostfile(args.hostfile)
    return None


def _find_cluster(args: argparse.Namespace, port: int):
    """The recorded cluster on `port`, else one described by --local/--hosts/--hostfile, else None."""
    from .cluster import Cluster, Node
    path = cluster_state_path(port)
    if path.is_file():
        return Cluster.from_state(json.loads(path.read_text()))
    hosts = _hosts_arg(args)
    if getattr(args, "local", None):
        hosts, mode = [f"127.0.0.{2 + k}" for k in range(args.local)], "local"
    elif hosts:
        mode = "ssh"
    else:
        return None
    nodes = [Node(k, h, port, 0, "", "") for k, h in enumerate(hosts)]
    return Cluster.from_state({"port": port, "mode": mode, "nodes": [n.to_dict() for n in nodes],
                               "ssh_options": getattr(args, "ssh_options", None),
                               "python": getattr(args, "python", None)})


def cmd_cluster_start(args: argparse.Namespace) -> int:
    from .cluster import start_cluster
    from .runtime import free_port
    port = args.port if args.port is not None else free_port()
    state = cluster_state_path(port)
    if state.is_file():
        print(f"chimaera cluster start: a cluster is recorded on port {port} ({state}); "
              f"`chimaera cluster stop --port {port}` first", file=sys.stderr)
        return 1
    kw = dict(port=port, workers=args.workers, shm_size=args.shm_size, timeout=args.timeout,
              log_level=args.log_level)
    try:
        if args.local is not None:
            d = _rundir() / f"cluster-{port}"
            cl = start_cluster(local=args.local, detached=True, dir=str(d), **kw)
        else:
            cl = start_cluster(hosts=_hosts_arg(args), ssh_options=args.ssh_options, python=args.python,
                               remote_dir=args.remote_dir, **kw)
    except (ChimaeraError, ValueError, OSError) as e:
        print(f"chimaera cluster start: {e}", file=sys.stderr)
        return 1
    _core.disconnect() if _core.is_connected() else None
    state.write_text(json.dumps(cl.to_state(), indent=1))
    print(f"chimaera cluster started: {len(cl.nodes)} nodes on port {port} ({cl.mode}); state {state}")
    for n in cl.nodes:
        addr = n.host if ":" in n.host else f"{n.host}:{n.port}"
        print(f"  node {n.id:>3}  {addr:<22} pid {n.pid:<8} log {n.log}")
    return 0


def cmd_cluster_stop(args: argparse.Namespace) -> int:
    port = _cluster_port(args)
    cl = _find_cluster(args, port)
    if cl is None:
        print(f"chimaera cluster stop: no cluster recorded on port {port} ({cluster_state_path(port)}); "
              "give --port, or --local N / --hosts / --hostfile", file=sys.stderr)
        return 1
    results = cl.stop(timeout=args.timeout, check=False)
    bad = 0
    for r in results:
        ok = r["rc"] in (0, None) and not r["killed"] and r["segment"] == "absent"
        bad += not ok
        rc = "exit code unknown" if r["rc"] is None else f"exit code {r['rc']}"
        print(f"  node {r['id']:>3}  {r['host']:<16} {rc}{', killed' if r['killed'] else ''}, "
              f"segment {r['segment']}{'' if ok else '  <- not clean'}")
    cluster_state_path(port).unlink(missing_ok=True)
    if bad == 0 and cl.mode == "local" and cl.dir == str(_rundir() / f"cluster-{port}"):
        shutil.rmtree(cl.dir, ignore_errors=True)  # configs and logs of a clean run
    print(f"chimaera cluster on port {port} stopped: {len(results) - bad} of {len(results)} nodes cleanly")
    return 0 if bad == 0 else 1


def cmd_cluster_status(args: argparse.Namespace) -> int:
    port = _cluster_port(args)
    cl = _find_cluster(args, port)
    if cl is None:
        print(f"chimaera cluster status: no cluster recorded on port {port} ({cluster_state_path(port)}); "
              "give --port, or --local N / --hosts / --hostfile", file=sys.stderr)
        return 1
    try:
        st = cl.status()
    except ChimaeraError as e:
        print(f"chimaera cluster status: {e}", file=sys.stderr)
        return 1
    finally:
        if _core.is_connected():
            _core.disconnect()
    recorded = {n.id: n for n in cl.nodes}
    nodes = []
    for n in st.get("nodes") or []:
        rec = recorded.get(n["id"])
        nodes.append({"id": n["id"], "address": n["address"], "state": n["state"], "alive": n["alive"],
                      "incarnation": n["incarnation"], "in_flight": n["in_flight"],
                      "pid": rec.pid if rec else None, "log": rec.log if rec else None})
    pools = [{"id": p["id"], "name": p["name"], "module": p["module"], "nodes": p.get("nodes")}
             for p in st.get("pools", [])]
    if args.json:
        print(json.dumps({"port": port, "mode": cl.mode, "seen_from": st.get("node_id"), "nodes": nodes,
                          "pools": pools}))
        return 0
    print(f"cluster on port {port} ({cl.mode}): {len(nodes)} nodes, seen from node {st.get('node_id')}")
    for n in nodes:
        state = "alive" if n["alive"] else "dead"
        print(f"  node {n['id']:>3}  {n['address']:<22} {state:<6} ({n['state']:<10}) incarnation "
              f"{n['incarnation']:<16} in flight {n['in_flight']:<5} pid {n['pid']}")
    for p in pools:
        where = " ".join(f"{c}->{nd}" for c, nd in enumerate(p["nodes"])) if p["nodes"] is not None else "?"
        print(f"  pool {p['id']:>4}  {p['name']:<24} {p['module']:<28} containers->nodes: {where}")
    return 0


def _add_cluster_parser(sub) -> None:
    c = sub.add_parser("cluster", help="start, stop and inspect a cluster of runtimes",
                       description="Start, stop and inspect a cluster: several nodes on this machine "
                                   "(--local N) or one per remote host (--hosts/--hostfile, via ClusterShell "
                                   "over ssh).", epilog=CLUSTER_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = c.add_subparsers(dest="cluster_command", metavar="COMMAND", required=True)

    def where(p: argparse.ArgumentParser, required: bool) -> None:
        g = p.add_mutually_exclusive_group(required=required)
        g.add_argument("--local", type=int, metavar="N", help="N nodes on this machine, node k on 127.0.0.(2+k)")
        g.add_argument("--hosts", metavar="A,B,...", help="one node per host (comma separated), via ssh")
        g.add_argument("--hostfile", metavar="FILE",
                       help="hosts one per line (# comments, host:port, node[01-04]), via ssh")
        p.add_argument("--ssh-options", default=None, metavar="OPTS",
                       help='extra ssh options for ClusterShell, e.g. "-p 2222 -i key"')
        p.add_argument("--python", default=None, metavar="PATH",
                       help=f"Python interpreter with chimaera on the hosts (default: {sys.executable})")

    s = csub.add_parser("start", help="start every node and wait until each answered",
                        description="Start the nodes; exit 0 once every node accepts a client and sees every "
                                    "other node alive, printing one line per node (id, address, pid, log). "
                                    "Else print which node failed and its log, stop the others, exit 1. Local "
                                    "nodes are detached daemons (they outlive this command).",
                        epilog=CLUSTER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    where(s, True)
    _add_port(s)
    s.add_argument("--workers", "-w", type=int, default=1, help="worker threads per node (default 1)")
    s.add_argument("--shm-size", default="64m", help="shared memory per node (default 64m)")
    s.add_argument("--log-level", default="info",
                   choices=["trace", "debug", "info", "warn", "error", "critical", "off"])
    s.add_argument("--timeout", type=float, default=30.0, help="seconds for every node to answer (default 30)")
    s.add_argument("--remote-dir", default=None, metavar="DIR",
                   help="remote hosts: directory of configs and logs (default /tmp/chimaera-cluster-<port>)")
    s.set_defaults(func=cmd_cluster_start)

    t = csub.add_parser("stop", help="stop every node and wait for them",
                        description="Stop every node of the cluster (the admin stop of all nodes, sent to a live "
                                    "node), wait for every process (SIGKILL after --timeout), and report any "
                                    "node that did not exit 0 or left shared memory (exit 1).")
    _add_port(t)
    where(t, False)
    t.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the nodes (default 10)")
    t.set_defaults(func=cmd_cluster_stop)

    u = csub.add_parser("status", help="show every node and pool as a live node sees them",
                        description="Print every node (id, address, alive/dead, incarnation, tasks in flight, "
                                    "pid) and every pool with its container -> node map, as a live node sees "
                                    "them. Exit 1 if no node answers.")
    _add_port(u)
    where(u, False)
    u.add_argument("--json", action="store_true", help="print JSON")
    u.set_defaults(func=cmd_cluster_status)


def _codegen_main():
    """main() of the ChiMod code generator / scaffolder (chimaera_codegen, needs
    python3-jinja2 and python3-yaml): shipped inside an installed package
    (chimaera/_codegen), else the source tree's generators/, else an importable
    one. None when unavailable."""
    here = Path(__file__).resolve().parent
    for d in (here / "_codegen", here.parent.parent / "generators"):
        if (d / "chimaera_codegen" / "cli.py").is_file():
            if str(d) not in sys.path:
                sys.path.insert(0, str(d))
            if (d / "chimod_templates").is_dir():  # the copy shipped in the package
                os.environ.setdefault("CHIMAERA_TEMPLATES_DIR", str(d / "chimod_templates"))
            break
    try:
        from chimaera_codegen.cli import main  # type: ignore[import-not-found]
    except ImportError:
        return None
    return main


def run_codegen(command: str, rest: Sequence[str]) -> int:
    """`chimaera gen|check|new-repo|new-mod ARGS`: delegate to chimaera-gen."""
    main = _codegen_main()
    if main is None:
        print(f"chimaera {command}: not yet available here: the code generator (chimaera_codegen, with "
              "python3-jinja2 and python3-yaml) was not found", file=sys.stderr)
        return 2
    try:
        return int(main([command, *rest]) or 0)
    except SystemExit as e:  # argparse inside chimaera-gen
        return e.code if isinstance(e.code, int) else 2


CODEGEN_COMMANDS = {
    "gen": "generate a module's autogen headers from chimaera_mod.yaml",
    "check": "exit 1 if a module's checked-in autogen headers are stale",
    "new-repo": "scaffold a ChiMod repo",
    "new-mod": "scaffold a module in a ChiMod repo",
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="chimaera", description="Start, stop and inspect Chimaera runtimes.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("start", help="start a runtime (foreground unless --daemon)",
                       description="Start a runtime. Foreground by default (Ctrl-C stops it); --daemon "
                                   "starts it in the background and returns once it serves.")
    _add_port(s)
    s.add_argument("--workers", "-w", type=int, default=None, help="worker threads (default: max(1, cores - 1), at most 8)")
    s.add_argument("--shm-size", default=None, help="shared memory size, e.g. 256m, 1g")
    s.add_argument("--lanes-per-queue", type=int, default=None)
    s.add_argument("--queue-depth", type=int, default=None)
    s.add_argument("--module-path", action="append", default=[], metavar="DIR",
                   help="extra module directory (repeatable)")
    s.add_argument("--log-level", default=None, choices=["trace", "debug", "info", "warn", "error", "critical",
                                                          "off"])
    s.add_argument("--config", default=None, metavar="FILE",
                   help="use this YAML config as is (other options are ignored)")
    s.add_argument("--daemon", "-d", action="store_true", help="run in the background")
    s.add_argument("--log", default=None, metavar="FILE", help="--daemon: log file")
    s.add_argument("--timeout", type=float, default=15.0, help="--daemon: seconds to wait for readiness")
    _add_host(s)
    s.add_argument("--exit-code-file", default=None, metavar="FILE",
                   help="--daemon: write the runtime's exit code to FILE when it exits (a small sh parent waits)")
    s.set_defaults(func=cmd_start)

    t = sub.add_parser("stop", help="stop a runtime", description="Ask the runtime on PORT to stop and wait "
                                                                  "(--all-nodes: every node of its cluster).")
    _add_port(t)
    _add_host(t)
    t.add_argument("--all-nodes", action="store_true",
                   help="stop every node of the runtime's cluster (it stops the others, then itself)")
    t.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for it to exit")
    t.add_argument("--force", action="store_true", help="SIGKILL it after --timeout")
    t.set_defaults(func=cmd_stop)

    u = sub.add_parser("status", help="show a runtime's status",
                       description="Print a runtime's status (and, on a node of a cluster, every node's).")
    _add_port(u)
    _add_host(u)
    u.add_argument("--json", action="store_true", help="print JSON")
    u.set_defaults(func=cmd_status)

    _add_cluster_parser(sub)

    for name, what in CODEGEN_COMMANDS.items():
        # Parsed by chimaera-gen (see main); listed here for --help.
        sub.add_parser(name, help=f"{what} (chimaera-gen {name} --help)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in CODEGEN_COMMANDS:  # the rest, --help included, is chimaera-gen's
        return run_codegen(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ChimaeraError, FileNotFoundError) as e:
        print(f"chimaera {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `chimaera status | head`: the reader left
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
