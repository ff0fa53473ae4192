"""A module declared with the task schema, from Python (issue 14).

tests/integration/kvstore's chimaera_mod.yaml declares its methods with
fields; the build generates its Python extension (build/python/
chimaera_test_kvstore*.so). These tests use it through a real runtime: the
pool class create_pool returns, blocking calls returning Python values and
named tuples, futures (result, as_completed, wait_all, await), errors as
TaskError, and a small_message task sent to the kvstore pool refused as a
task of another type (UNSUPPORTED_METHOD), not run as Put.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
if not list((BUILD / "python").glob("chimaera_test_kvstore*.so")):
    pytest.skip("build/python has no chimaera_test_kvstore extension (configure build/ with CHI_BUILD_PYTHON=ON)",
                allow_module_level=True)
sys.path.insert(0, str(BUILD / "python"))

import chimaera  # noqa: E402
from chimaera import TaskError, TaskErrorCode  # noqa: E402


@pytest.fixture
def kv():
    rt = chimaera.start(workers=2, shm_size="64m", module_path=str(BUILD / "test_modules"))
    try:
        yield rt.create_pool("kv", "chimaera_test::kvstore")
    finally:
        assert rt.stop() in (0, None)


def test_create_pool_returns_the_generated_class(kv):
    import chimaera_test_kvstore

    assert type(kv) is chimaera_test_kvstore.KvstorePool
    assert isinstance(kv, chimaera.Pool)
    assert kv.module == "chimaera_test::kvstore"
    # A bare name that the runtime resolves gets the same class.
    assert type(kv.client.create_pool("kv2", "kvstore")) is chimaera_test_kvstore.KvstorePool


def test_blocking_calls_return_python_values(kv):
    assert kv.put("a", b"alpha") is None
    kv.put("view", memoryview(bytearray(b"0123456789"))[2:5])  # any bytes-like
    assert kv.get("a") == (b"alpha", True)
    got = kv.get("view")
    assert got.value == b"234" and got.found is True
    assert kv.get("missing") == (b"", False)
    stats = kv.stats()
    assert (stats.keys, sorted(stats.sizes), stats.name) == (2, [3, 5], "kv")
    echo = kv.echo(1.5, 1, b"abc", 41)
    assert echo == (b"bcdbcd", 42, 3.0)
    assert kv.erase("a") is True and kv.erase("a") is False


def test_futures_result_as_completed_wait_all_and_await(kv):
    puts = [kv.put_async(f"k{i}", str(i).encode()) for i in range(300)]
    assert chimaera.wait_all(puts, timeout=30)
    assert all(f.result() is None for f in puts)
    gets = {kv.get_async(f"k{i}"): i for i in range(300)}
    seen = {gets[f]: f.result(timeout=10).value for f in chimaera.as_completed(gets, timeout=30)}
    assert seen == {i: str(i).encode() for i in range(300)}

    async def main():
        return await asyncio.gather(*(kv.get_async(f"k{i}") for i in range(10)))

    assert [r.value for r in asyncio.run(main())] == [str(i).encode() for i in range(10)]


def test_errors_raise_task_error(kv):
    with pytest.raises(TaskError) as e:
        kv.echo(1.0, 0, b"abc", 0, blob_capacity=4)  # the handler's own error
    assert e.value.code == TaskErrorCode.BAD_ARGUMENT and "does not fit" in e.value.message
    kv.put("big", b"x" * 100)
    with pytest.raises(TaskError, match="'value' has 100 bytes, more than its buffer of 10"):
        kv.get("big", value_capacity=10)
    assert kv.get("big", value_capacity=100).value == b"x" * 100
    fut = kv.get_async("big", value_capacity=1)
    assert isinstance(fut.exception(timeout=10), TaskError)
    # Wrong types are named in the caller's terms, not the binding's
    # internal _echo_async(pool_id, node, ...).
    with pytest.raises(TypeError, match=r"^echo\(scale: float, tag: int \(i8\), .*out of its field's range; "
                                        r"got \(float, int, bytes, int, int\)$"):
        kv.echo(1.0, 300, b"", 0)  # tag is an i8
    with pytest.raises(TypeError, match=r"^put_async\(key: str, value: bytes\): .* got \(int, bytes\)$"):
        kv.put_async(1, b"x")
    with pytest.raises(TypeError, match="bytes-like object is required"):
        kv.put("a", "not bytes")  # a str has no buffer: that message stays


def test_task_of_another_module_is_refused_not_run(kv):
    # small_message's method 10 on a kvstore pool, whose 10 is Put.
    plain = chimaera.Pool(kv.client, kv.id, "kv", "small_message")
    with pytest.raises(TaskError) as e:
        plain.md()
    assert e.value.code == TaskErrorCode.UNSUPPORTED_METHOD
    assert "chimaera_test::kvstore::PutTask" in e.value.message
    assert kv.stats().keys == 0  # nothing was stored
