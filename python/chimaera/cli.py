"""The ``chimaera`` command line: start, stop and inspect runtimes.

Exit codes: 0 success; 1 the operation failed (no runtime, start failure,
timeout); 2 usage errors (argparse) and features not available yet.
"""
from __future__ import annotations

import argparse
import json
import os
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
            _core.connect(port)
            _core.disconnect()
            print(f"chimaera runtime started: port {port}, pid {proc.pid}, log {log_path}")
            return 0
        except RuntimeUnavailableError:
            time.sleep(0.02)
    proc.terminate()
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
                      f"heard {heard:<12} in flight {n['in_flight']}{why}")
        for i, n in enumerate(st["tasks_completed"]):
            print(f"  worker {i}: {n} tasks completed")
        print(f"  process queue: {sum(st['queue_depths'])} tasks waiting in {len(st['queue_depths'])} lanes")
        for p in st["pools"]:
            print(f"  pool {p['id']:>4}  {p['name']:<24} {p['module']}")
        for m in st["modules"]:
            print(f"  module {m['name']:<30} {m['path']}")
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
