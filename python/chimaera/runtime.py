"""Start and stop a runtime daemon from Python (DESIGN.md §10).

:func:`start` runs ``chimaera_runtime --config <tmp>/config.yaml`` as a
subprocess in its own session (so a Ctrl-C aimed at Python does not kill it),
waits until a client can attach, and connects this process. The runtime is
stopped by :meth:`Runtime.stop`, by leaving a ``with`` block, when the object
is garbage collected, or at interpreter exit (``weakref.finalize``).
"""
from __future__ import annotations

import getpass
import os
import random
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, Sequence

from . import _core, _paths
from ._errors import RuntimeStartError, RuntimeUnavailableError
from .client import Client, Pool, connect

_LOG_TAIL = 4000  # characters of the log quoted in errors


def segment_path(port: int) -> Path:
    """The shared-memory file of the runtime on ``port`` (for this user)."""
    name = f"chimaera_{getpass.getuser()}_{port}"
    name = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
    return Path("/dev/shm") / name


def free_port() -> int:
    """A port no runtime of this user uses (its shm segment is absent)."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        port = rng.randrange(20000, 60000)
        if not segment_path(port).exists():
            return port
    raise RuntimeStartError("no free runtime port found")


def _yaml_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(int(v))


def write_config(path: Path, **keys: Any) -> None:
    """Write a runtime YAML config; keys with value None are left out."""
    lines = [f"{k}: {_yaml_value(v)}" for k, v in keys.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")


def _stop_process(proc: subprocess.Popen, port: int, tmpdir: str | None, timeout: float) -> int | None:
    """Finalizer: detach, SIGTERM, wait, SIGKILL if needed, remove temp files."""
    try:
        if _core.is_connected() and _core.connected_port() == port:
            _core.disconnect()
    except Exception:  # noqa: BLE001 - best effort at interpreter exit
        pass
    rc = proc.poll()
    if rc is None:
        try:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    if rc is not None and rc < 0:  # killed by a signal: it could not unlink its segment
        try:
            _core.reclaim_segment(port)
        except Exception:  # noqa: BLE001 - best effort
            pass
    if tmpdir:
        for f in ("config.yaml", "runtime.log"):
            try:
                os.unlink(os.path.join(tmpdir, f))
            except OSError:
                pass
        try:
            os.rmdir(tmpdir)
        except OSError:
            pass
    return rc


class Runtime:
    """A runtime daemon started by this process (see :func:`start`).

    Attributes:
        port: its port (also names its shm segment).
        pid: the daemon's process id.
        client: this process's :class:`Client` connection to it.
        config_path, log_path: its YAML config and stdout/stderr log.
    """

    def __init__(self, *, workers: int | None = None, port: int | None = None, shm_size: str | int | None = None,
                 lanes_per_queue: int | None = None, queue_depth: int | None = None,
                 module_path: Sequence[str] | str | None = None, log_level: str = "warn",
                 timeout: float = 15.0, executable: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None) -> None:
        exe = Path(executable) if executable else _paths.runtime_executable()
        self.port = int(port) if port is not None else free_port()
        self._tmpdir = tempfile.mkdtemp(prefix=f"chimaera-{self.port}-")
        self.config_path = Path(self._tmpdir) / "config.yaml"
        self.log_path = Path(self._tmpdir) / "runtime.log"
        write_config(self.config_path, workers=workers, port=self.port, shm_size=shm_size,
                     lanes_per_queue=lanes_per_queue, queue_depth=queue_depth,
                     module_path=[module_path] if isinstance(module_path, str) else module_path,
                     log_level=log_level)
        run_env = dict(os.environ if env is None else env)
        repo = [str(_paths.module_dir(exe))]
        if run_env.get("CHI_REPO_PATH"):
            repo.append(run_env["CHI_REPO_PATH"])
        run_env["CHI_REPO_PATH"] = ":".join(repo)
        run_env.pop("CHI_SERVER_CONF", None)
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen([str(exe), "--config", str(self.config_path)], stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=run_env,
                                          start_new_session=True)
        self.pid = self._proc.pid
        self._finalizer = weakref.finalize(self, _stop_process, self._proc, self.port, self._tmpdir, 10.0)
        try:
            self.client = self._wait_ready(timeout)
        except RuntimeStartError:
            log_text = self.log()
            self._finalizer()
            raise RuntimeStartError(self._start_failure_message(log_text)) from None
        except BaseException:  # e.g. KeyboardInterrupt: do not leave the daemon behind
            self._finalizer()
            raise

    def _start_failure_message(self, log_text: str) -> str:
        rc = self._proc.returncode
        how = f"exited with code {rc}" if rc is not None else "did not become ready in time"
        return f"chimaera_runtime on port {self.port} {how}; its log:\n{log_text[-_LOG_TAIL:]}"

    def _wait_ready(self, timeout: float) -> Client:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if self._proc.poll() is not None:
                raise RuntimeStartError("exited")
            try:
                client = connect(self.port)
                # Another live runtime may own the port: ours then exits with
                # an error, which the poll above reports.
                if int(client.status()["pid"]) == self.pid:
                    return client
            except RuntimeUnavailableError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeStartError("timeout")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # -- life cycle ---------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the daemon process has not exited."""
        return self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """The daemon's exit code once it exited (0 after a clean stop)."""
        return self._proc.poll()

    def stop(self, timeout: float = 10.0) -> int | None:
        """Detach, send SIGTERM, wait up to ``timeout`` s (then SIGKILL).
        Returns the exit code (0 on a clean stop). Idempotent."""
        if self._finalizer.alive:
            self._finalizer.detach()
            return _stop_process(self._proc, self.port, self._tmpdir, timeout)
        return self._proc.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the daemon to exit (e.g. after stop_runtime()); its exit code.
        Raises subprocess.TimeoutExpired."""
        return self._proc.wait(timeout)

    def log(self) -> str:
        """The daemon's output so far ('' once stopped and cleaned up)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- convenience: the client's API ----------------------------------------
    def create_pool(self, name: str, module: str, args: str = "") -> Pool:
        """See :meth:`Client.create_pool`."""
        return self.client.create_pool(name, module, args)

    def status(self) -> dict[str, Any]:
        """See :meth:`Client.status`."""
        return self.client.status()

    def __repr__(self) -> str:
        return f"<chimaera.Runtime port={self.port} pid={self.pid} running={self.running}>"


def start(**kwargs: Any) -> Runtime:
    """Start a runtime daemon and connect this process to it.

    Keyword arguments (all optional): ``workers`` (threads; default: the
    runtime's, max(1, cores - 1) up to 8, leaving a core to clients), ``port``
    (default: a free one), ``shm_size`` (bytes or "64m"/"1g"), ``lanes_per_queue``,
    ``queue_depth``, ``module_path`` (extra module directories), ``log_level``
    (default "warn"), ``timeout`` (seconds to wait for readiness, default 15),
    ``executable`` (default: see :mod:`chimaera._paths`), ``env``.

    Raises:
        RuntimeStartError: the daemon exited or did not become ready (the
            message quotes its log, e.g. a configuration error).
        FileNotFoundError: no daemon executable found.
    """
    return Runtime(**kwargs)
