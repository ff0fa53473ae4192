"""Connections to a runtime and pools (DESIGN.md §10).

A process is attached to at most one runtime at a time (the C++
``IpcManager`` is a process-wide singleton): :func:`connect` to another port
detaches from the previous runtime, and every :class:`~chimaera.Future` of
the old connection then raises :class:`RuntimeUnavailableError`.

All methods may be called from any thread; blocking calls release the GIL.
"""
from __future__ import annotations

import threading
from typing import Any

from . import _core
from ._errors import RuntimeUnavailableError
from .futures import Future

_lock = threading.Lock()


class Client:
    """This process's connection to the runtime on one port.

    Create with :func:`connect` (or get one from :class:`chimaera.Runtime`).
    """

    def __init__(self, port: int) -> None:
        self.port = int(port)

    # -- connection ---------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while this process is attached to this client's runtime."""
        return _core.is_connected() and _core.connected_port() == self.port

    def _check(self) -> None:
        if not self.connected:
            raise RuntimeUnavailableError(
                f"not connected to the runtime on port {self.port} (disconnected, or connected elsewhere)")

    def disconnect(self) -> None:
        """Detach from the runtime (it keeps running). Pending futures become unusable."""
        with _lock:
            if self.connected:
                _core.disconnect()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- administration -----------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Runtime facts: ``port``, ``pid``, ``num_workers``, ``state``
        ('starting'/'running'/'stopping'), ``tasks_completed`` (one count per
        worker, since start), ``queue_depths`` (tasks waiting in each lane of
        the process queue) and ``pools`` (dicts with ``id``, ``name``,
        ``module``). Raises RuntimeUnavailableError."""
        self._check()
        return dict(_core.status())

    def alive(self) -> bool:
        """Whether the runtime process still lives (~10 µs)."""
        return self.connected and _core.runtime_alive()

    def create_pool(self, name: str, module: str, args: str = "") -> "Pool":
        """Create a pool named ``name`` of module ``module`` (e.g. "small_message").

        Raises:
            TaskError: unknown module (code UNKNOWN_MODULE), name in use (POOL_EXISTS),
                or the module's Create failed.
            RuntimeUnavailableError: not connected, or the runtime died.
        """
        self._check()
        pid = _core.create_pool(name, module, args)
        return _pool_class(module)(self, pid, name, module)

    def create_pool_async(self, name: str, module: str, args: str = "") -> Future:
        """Like :meth:`create_pool`; the future's result is the pool id (int)
        (wrap it with :meth:`pool`)."""
        self._check()
        return Future(_core.create_pool_async(name, module, args))

    def pool(self, pool_id: int, name: str = "", module: str = "small_message") -> "Pool":
        """A :class:`Pool` for an existing pool id (e.g. created by another process);
        a :class:`CompressorPool` / :class:`BdevPool` for those modules."""
        return _pool_class(module)(self, int(pool_id), name, module)

    def destroy_pool(self, pool_id: int) -> None:
        """Destroy a pool by id. Raises TaskError (UNKNOWN_POOL)."""
        self._check()
        _core.destroy_pool(int(pool_id))

    def stop_runtime(self) -> None:
        """Ask the runtime to stop (admin StopRuntime), then detach.

        Returns once the runtime accepted; it exits shortly after (code 0).
        """
        self._check()
        _core.stop_runtime()
        self.disconnect()

    def __repr__(self) -> str:
        return f"<chimaera.Client port={self.port} connected={self.connected}>"


class Pool:
    """A pool of containers of one module. Methods of the small_message module
    (``md*``) are available on every pool; calling them on a pool of another
    module completes the task with TaskError (UNSUPPORTED_METHOD)."""

    def __init__(self, client: Client, pool_id: int, name: str = "", module: str = "") -> None:
        self.client = client
        self.id = int(pool_id)
        self.name = name
        self.module = module

    def destroy(self) -> None:
        """Destroy the pool. Raises TaskError (UNKNOWN_POOL) if already gone."""
        self.client.destroy_pool(self.id)

    # -- small_message ------------------------------------------------------
    def md(self) -> None:
        """One empty task, synchronously (a round trip). Raises TaskError."""
        _core.md(self.id)

    def md_async(self) -> Future:
        """Submit one empty task; returns its :class:`Future` (result None)."""
        return Future(_core.md_async(self.id))

    def submit_batch(self, n: int) -> list[Future]:
        """Submit ``n`` empty tasks in one call; returns their futures (in order).

        All ``n`` are in flight at once, so ``n`` is bounded by shared memory;
        for large counts use :meth:`md_batch`."""
        return [Future(h) for h in _core.md_submit(self.id, int(n))]

    def md_batch(self, n: int, window: int = 256) -> int:
        """Run ``n`` empty tasks with at most ``window`` in flight, in a single
        call into C++ (GIL released). Returns how many succeeded; raises
        TaskError (the first failure) after all completed. Ctrl-C interrupts
        (KeyboardInterrupt, after in-flight tasks drained)."""
        return _core.md_batch(self.id, int(n), int(window))

    def __repr__(self) -> str:
        return f"<chimaera.{type(self).__name__} id={self.id} name={self.name!r} module={self.module!r}>"


def _pool_class(module: str) -> type:
    from .modules import BdevPool, CompressorPool  # noqa: PLC0415 - avoids an import cycle
    return {"compressor": CompressorPool, "bdev": BdevPool}.get(module, Pool)


def connect(port: int | None = None) -> Client:
    """Attach this process to the runtime on ``port`` (None: ``$CHI_PORT`` or 9413).

    Raises:
        RuntimeUnavailableError: no live runtime on that port for this user.
    """
    with _lock:
        p = int(port) if port is not None else _core.default_port()
        _core.connect(p)
        return Client(p)


def disconnect() -> None:
    """Detach this process from its runtime, if any."""
    with _lock:
        _core.disconnect()
