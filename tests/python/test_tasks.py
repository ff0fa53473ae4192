"""Tasks: sync, futures, batches, asyncio, callbacks, timeouts, interrupts."""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

import chimaera
from conftest import Frozen


def test_sync_md(pool):
    for _ in range(1000):
        pool.md()


def test_future_basics(pool):
    f = pool.md_async()
    assert f.result(timeout=10) is None
    assert f.done()
    assert f.code == 0
    assert f.exception() is None
    assert not f.cancelled()
    assert "done" in repr(f)


def test_submit_batch_and_wait_all(pool):
    futs = pool.submit_batch(500)
    assert len(futs) == 500
    assert chimaera.wait_all(futs, timeout=30)
    assert all(f.done() and f.result() is None for f in futs)
    futs2 = chimaera.submit_batch(pool, 10)
    assert chimaera.wait_all(futs2)


def test_as_completed(pool):
    futs = [pool.md_async() for _ in range(200)]
    seen = list(chimaera.as_completed(futs, timeout=30))
    assert len(seen) == 200 and set(map(id, seen)) == set(map(id, futs))


def test_md_batch(runtime, pool):
    before = sum(runtime.status()["tasks_completed"])
    assert pool.md_batch(20000, window=128) == 20000
    assert pool.md_batch(5, window=1000) == 5
    assert pool.md_batch(0) == 0
    assert sum(runtime.status()["tasks_completed"]) >= before + 20005


def test_done_callback(pool):
    ev = threading.Event()
    got = []

    def cb(f):
        got.append(f)
        ev.set()

    f = pool.md_async()
    f.add_done_callback(cb)
    assert ev.wait(10)
    assert got == [f]
    # Already done: called at once.
    f.add_done_callback(lambda x: got.append(x))
    assert got == [f, f]


def test_failed_future(runtime, pool):
    pool.destroy()
    f = pool.md_async()
    e = f.exception(timeout=10)
    assert isinstance(e, chimaera.TaskError) and e.code == chimaera.TaskErrorCode.UNKNOWN_POOL
    with pytest.raises(chimaera.TaskError):
        f.result()


def test_asyncio_await(pool):
    async def main():
        one = await pool.md_async()
        many = await asyncio.gather(*(pool.md_async() for _ in range(100)))
        return one, many

    one, many = asyncio.run(main())
    assert one is None and many == [None] * 100


def test_asyncio_await_pending_does_not_block_loop(runtime, pool):
    with Frozen(runtime) as fr:
        async def main():
            fut = pool.md_async()
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            t = asyncio.ensure_future(ticker())
            asyncio.get_running_loop().call_later(0.2, fr.thaw)
            await fut
            t.cancel()
            return ticks

        assert asyncio.run(main()) >= 5


def test_result_timeout_then_runtime_keeps_serving(runtime, pool):
    with Frozen(runtime):  # the task stays pending
        f = pool.md_async()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            f.result(timeout=0.2)
        assert 0.15 <= time.monotonic() - t0 < 5
        assert not f.done()
        assert not f.wait(0.05)
        assert not chimaera.wait_all([f], timeout=0.05)
        with pytest.raises(TimeoutError):
            list(chimaera.as_completed([f], timeout=0.05))
    assert f.result(timeout=10) is None
    pool.md()
    assert pool.md_batch(1000) == 1000


def test_keyboard_interrupt_while_waiting(runtime, pool):
    with Frozen(runtime):
        f = pool.md_async()
        threading.Timer(0.2, signal.raise_signal, (signal.SIGINT,)).start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            f.result()  # no timeout: only the interrupt ends it
        assert time.monotonic() - t0 < 5
    assert f.result(timeout=10) is None  # the future is still usable
    pool.md()


def test_keyboard_interrupt_in_batch(runtime, pool):
    threading.Timer(0.3, signal.raise_signal, (signal.SIGINT,)).start()
    with pytest.raises(KeyboardInterrupt):
        pool.md_batch(10**9, window=64)
    assert pool.md_batch(100) == 100


def test_dropped_pending_futures_are_reclaimed(runtime, pool):
    with Frozen(runtime):
        for _ in range(100):
            pool.md_async()  # dropped at once while pending
    for _ in range(100):
        pool.md_async().result(10)
    assert pool.md_batch(1000) == 1000


def test_not_connected_errors(runtime, pool):
    runtime.client.disconnect()
    with pytest.raises(chimaera.RuntimeUnavailableError):
        pool.md()
    with pytest.raises(chimaera.RuntimeUnavailableError):
        pool.md_async()


def test_gil_released_while_waiting(runtime, pool):
    with Frozen(runtime):
        f = pool.md_async()
        waiter = threading.Thread(target=lambda: f.result(timeout=10))
        waiter.start()
        time.sleep(0.05)
        count, t_end = 0, time.monotonic() + 0.2
        while time.monotonic() < t_end:  # runs only if the waiter released the GIL
            count += 1
        assert count > 10000
        assert waiter.is_alive()
    waiter.join(10)
    assert not waiter.is_alive() and f.done()


def test_disconnect_while_another_thread_waits(runtime, pool):
    errors: list[BaseException] = []
    with Frozen(runtime):
        futs = [pool.md_async() for _ in range(3)]

        def wait_one():
            try:
                futs[0].result(timeout=30)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        def batch():
            try:
                pool.md_batch(10**6)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=wait_one), threading.Thread(target=batch)]
        for t in ts:
            t.start()
        futs[1].add_done_callback(lambda f: None)  # the waiter thread polls it too
        time.sleep(0.2)
        runtime.client.disconnect()  # must not unmap memory under the waiters
        for t in ts:
            t.join(10)
        assert not any(t.is_alive() for t in ts)
    assert len(errors) == 2
    assert all(isinstance(e, chimaera.RuntimeUnavailableError) for e in errors), errors
    with pytest.raises(chimaera.RuntimeUnavailableError):
        futs[2].result()
    c = chimaera.connect(runtime.port)  # and the runtime still serves
    c.pool(pool.id).md()
