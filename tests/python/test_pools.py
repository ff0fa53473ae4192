"""Pools: create, destroy, and the errors the runtime reports."""
from __future__ import annotations

import pytest

import chimaera
from chimaera import TaskErrorCode


def test_create_and_destroy(runtime):
    p = runtime.create_pool("a", "small_message")
    q = runtime.create_pool("b", "small_message")
    assert isinstance(p.id, int) and p.id != q.id
    assert p.name == "a" and p.module == "chimaera::small_message"  # the qualified name
    p.md()
    p.destroy()
    q.md()
    q.destroy()


def test_unknown_module_is_task_error(runtime):
    with pytest.raises(chimaera.TaskError) as ei:
        runtime.create_pool("x", "no_such_module")
    e = ei.value
    assert e.code == TaskErrorCode.UNKNOWN_MODULE
    assert "no_such_module" in e.message
    assert isinstance(e, chimaera.ChimaeraError)
    # The runtime goes on.
    runtime.create_pool("y", "small_message").md()


def test_duplicate_name(runtime, pool):
    with pytest.raises(chimaera.TaskError) as ei:
        runtime.create_pool("test_pool", "small_message")
    assert ei.value.code == TaskErrorCode.POOL_EXISTS


def test_destroyed_pool_errors(runtime, pool):
    pool.destroy()
    with pytest.raises(chimaera.TaskError) as ei:
        pool.destroy()
    assert ei.value.code == TaskErrorCode.UNKNOWN_POOL
    with pytest.raises(chimaera.TaskError) as ei:
        pool.md()
    assert ei.value.code == TaskErrorCode.UNKNOWN_POOL
    with pytest.raises(chimaera.TaskError):
        pool.md_batch(100)


def test_create_pool_async(runtime):
    fut = runtime.client.create_pool_async("async_pool", "small_message")
    pid = fut.result(timeout=10)
    assert isinstance(pid, int) and pid > 1
    p = runtime.client.pool(pid, "async_pool")
    p.md()
    p.destroy()


def test_wrong_module_method_is_task_error(runtime):
    # small_message's method id means something else (or nothing) to admin:
    # the task fails with an error code, and the runtime goes on.
    admin = runtime.client.pool(1, "admin", "admin")
    with pytest.raises(chimaera.TaskError) as ei:
        admin.md()
    assert ei.value.code != TaskErrorCode.OK
    runtime.create_pool("after", "small_message").md()
