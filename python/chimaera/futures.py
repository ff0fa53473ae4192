"""Futures of Chimaera tasks: blocking, callback and asyncio styles.

A :class:`Future` wraps one in-flight task. ``result(timeout)`` waits with the
GIL released (Ctrl-C interrupts the wait; the task keeps running and the
future stays usable). Done-callbacks and ``await`` are served by one
background waiter thread per process, started on first use, which runs the
callbacks (so they must be quick and must not block).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable, Iterable, Iterator

from . import _core
from ._errors import TaskError

_log = logging.getLogger("chimaera")

Callback = Callable[["Future"], Any]


class Future:
    """The outcome of one task. Thread-safe."""

    __slots__ = ("_handle", "_callbacks", "__weakref__")

    def __init__(self, handle: "_core.TaskHandle") -> None:
        self._handle = handle
        self._callbacks: list[Callback] | None = None

    def done(self) -> bool:
        """True once the task completed (successfully or not). Never blocks."""
        return self._handle.done()

    def cancelled(self) -> bool:
        """Always False: submitted tasks cannot be cancelled."""
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: forever); True when done."""
        return self._handle.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The task's result (None for most tasks; the pool id for create_pool_async).

        Raises:
            TimeoutError: not done within ``timeout`` seconds (the task goes on).
            TaskError: the task failed (``.code``, ``.message``).
            RuntimeUnavailableError: the runtime died or this process disconnected.
        """
        return self._handle.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The TaskError the task failed with, or None. Raises TimeoutError."""
        try:
            self._handle.result(timeout)
        except TaskError as e:
            return e
        return None

    @property
    def code(self) -> int:
        """Return code once done (0 = success), -1 while pending."""
        return self._handle.code

    def add_done_callback(self, fn: Callback) -> None:
        """Call ``fn(self)`` once done: at once (in this thread) if already done,
        else from the waiter thread. Exceptions from ``fn`` are logged."""
        if self._handle.done():
            _run_callback(fn, self)
            return
        _waiter().add(self, fn)

    def __await__(self):
        """``await future`` in asyncio: suspends the coroutine, not the loop."""
        if not self._handle.done():
            loop = asyncio.get_running_loop()
            waiter = loop.create_future()

            def _wake(_: "Future") -> None:
                try:
                    loop.call_soon_threadsafe(_set_done, waiter)
                except RuntimeError:  # loop closed meanwhile
                    pass

            self.add_done_callback(_wake)
            yield from waiter.__await__()
        return self._handle.result(0)

    def __repr__(self) -> str:
        try:
            state = "done" if self.done() else "pending"
        except Exception:  # noqa: BLE001 - e.g. disconnected
            state = "detached"
        return f"<chimaera.Future {state}>"


def _set_done(f: "asyncio.Future[None]") -> None:
    if not f.done():
        f.set_result(None)


def _run_callback(fn: Callback, fut: Future) -> None:
    try:
        fn(fut)
    except Exception:  # noqa: BLE001 - a callback must not kill the waiter
        _log.exception("chimaera: exception in a Future done-callback")


class _Waiter:
    """One daemon thread that watches futures with callbacks."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[tuple[Future, Callback]] = []
        self._thread = threading.Thread(target=self._run, name="chimaera-waiter", daemon=True)
        self._thread.start()

    def add(self, fut: Future, fn: Callback) -> None:
        with self._cond:
            self._pending.append((fut, fn))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                items = list(self._pending)
            try:
                _core.wait_any([f._handle for f, _ in items], 0.02)
                fired = [x for x in items if x[0]._handle.done()]
            except Exception as e:  # noqa: BLE001 - disconnected: fire everything
                _log.debug("chimaera waiter: %s", e)
                fired = items
            if not fired:
                continue
            with self._cond:
                ids = {id(x) for x in fired}
                self._pending = [x for x in self._pending if id(x) not in ids]
            for f, fn in fired:
                _run_callback(fn, f)


_waiter_lock = threading.Lock()
_waiter_inst: _Waiter | None = None


def _waiter() -> _Waiter:
    global _waiter_inst
    with _waiter_lock:
        if _waiter_inst is None:
            _waiter_inst = _Waiter()
        return _waiter_inst


def wait_all(futures: Iterable[Future], timeout: float | None = None) -> bool:
    """Wait until every future is done or ``timeout`` seconds elapsed.

    One call into C++ (GIL released). Returns True when all are done. Does not
    raise task errors: inspect each future's ``result()``/``exception()``.
    """
    return _core.wait_all([f._handle for f in futures], timeout)


def as_completed(futures: Iterable[Future], timeout: float | None = None) -> Iterator[Future]:
    """Yield futures as they complete (like ``concurrent.futures.as_completed``).

    Raises:
        TimeoutError: some are still pending after ``timeout`` seconds.
    """
    pending = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    while pending:
        still = []
        for f in pending:
            if f._handle.done():
                yield f
            else:
                still.append(f)
        pending = still
        if not pending:
            return
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError(f"{len(pending)} of the futures did not complete in time")
        _core.wait_any([f._handle for f in pending], 0.05 if left is None else min(left, 0.05))
