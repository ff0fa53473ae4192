"""Python half of scaffold_e2e.sh: the Python module demo_hello that the
scaffolded repo's build generated from chimaera_mod.yaml (issues 5, 14),
against a running runtime.

usage: python scaffold_py_check.py PORT PREFIX_LIB [--dedup-only]

Run with the scaffolded build's python/ on PYTHONPATH and the `chimaera`
package importable. Checks:
  * chimaera._core and demo_hello map ONE libchimaera_client.so (the dynamic
    loader reuses a loaded SONAME), from PREFIX_LIB unless --dedup-only;
  * create_pool(name, "demo::hello") returns demo_hello.HelloPool (found by
    importing demo_hello for the qualified name), also for the bare name;
  * pool.example(...) returns a named tuple; bytes, bytearray, memoryview
    inputs; example_async gives chimaera.Future objects that work with
    result(timeout), as_completed, wait_all and asyncio's await;
  * errors: TaskError BAD_ARGUMENT from the handler, a small_message task
    on the pool refused (UNSUPPORTED_METHOD), TypeError for a str as bytes,
    RuntimeUnavailableError before connect and after disconnect;
  * calls from several threads at once (the GIL is released while waiting).
--dedup-only: only import both and check the single library copy.
Exit status 0 when every check passed.
"""
import asyncio
import os
import sys
import threading
import time


def client_libs():
    with open("/proc/self/maps") as f:
        return sorted({line.split()[-1] for line in f if line.rstrip().endswith("/libchimaera_client.so")})


def expect(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f"{fn} did not raise {exc_type.__name__}")


def main():
    port, prefix_lib = int(sys.argv[1]), sys.argv[2]
    dedup_only = "--dedup-only" in sys.argv[3:]
    import chimaera
    import demo_hello

    libs = client_libs()
    assert len(libs) == 1, f"several copies of libchimaera_client.so mapped: {libs}"
    print(f"libchimaera_client.so: {libs[0]} (one copy, shared by chimaera._core and demo_hello)")
    if dedup_only:
        return
    assert os.path.dirname(os.path.realpath(libs[0])) == os.path.realpath(prefix_lib), \
        f"{libs[0]} is not the installed prefix's ({prefix_lib})"

    # Not connected yet: the generated calls say so.
    e = expect(chimaera.RuntimeUnavailableError, demo_hello.HelloPool(None, 5).example, "x", b"", 0)
    assert "chimaera.connect" in str(e), e

    deadline = time.monotonic() + 10  # the runtime may still be starting
    while True:
        try:
            client = chimaera.connect(port)
            break
        except chimaera.RuntimeUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

    name = f"hello_py_{os.getpid()}"
    pool = client.create_pool(name, "demo::hello")
    assert type(pool) is demo_hello.HelloPool, type(pool)
    assert pool.module == "demo::hello"
    assert type(client.create_pool(name + "_bare", "hello")) is demo_hello.HelloPool

    r = pool.example("lbl", b"\x01\x02\x03", 5)
    assert r == (6, 6, "lbl: 3 bytes, sum 6"), r
    assert (r.counter, r.sum, r.message) == (6, 6, "lbl: 3 bytes, sum 6"), r
    big = bytearray(range(256)) * 256
    r = pool.example("big", memoryview(big), 0)
    assert r.sum == 255 * 128 * 256 and r.counter == 1, r
    assert pool.example("ba", bytearray(b"\xff" * 10), 0).sum == 2550
    assert pool.example("empty", b"", 41) == (42, 0, "empty: 0 bytes, sum 0")
    expect(TypeError, pool.example, "str", "not bytes", 0)

    # Futures: result, as_completed, wait_all, await.
    futs = [pool.example_async("f", bytes([i]), i) for i in range(100)]
    assert chimaera.wait_all(futs, timeout=30)
    assert [f.result(timeout=5).sum for f in futs] == list(range(100))
    order = {f: i for i, f in enumerate(pool.example_async("c", bytes([i]), 0) for i in range(50))}
    assert sorted(f.result().sum for f in chimaera.as_completed(order, timeout=30)) == list(range(50))

    async def gather():
        return await asyncio.gather(*(pool.example_async("a", bytes([i, i]), 0) for i in range(10)))

    assert [r.sum for r in asyncio.run(gather())] == [2 * i for i in range(10)]

    # Errors.
    e = expect(chimaera.TaskError, pool.example, "", b"\x01", 0)
    assert e.code == chimaera.TaskErrorCode.BAD_ARGUMENT and "non-empty label" in e.message, (e.code, e.message)
    assert isinstance(pool.example_async("", b"", 0).exception(timeout=10), chimaera.TaskError)
    e = expect(chimaera.TaskError, chimaera.Pool(client, pool.id).md)  # small_message's method 10
    assert e.code == chimaera.TaskErrorCode.UNSUPPORTED_METHOD and "ExampleTask" in e.message, (e.code, e.message)
    e = expect(chimaera.TaskError, client.create_pool, name, "demo::hello")
    assert e.code == chimaera.TaskErrorCode.POOL_EXISTS, (e.code, e.message)

    # Several Python threads at once (each call releases the GIL while waiting).
    errors = []

    def worker(i):
        try:
            for k in range(50):
                got = pool.example(f"t{i}", bytes([i, k]), k)
                assert got.sum == i + k and got.counter == k + 1, got
        except BaseException as ex:  # noqa: BLE001 - reported below
            errors.append(ex)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors

    # Another view of the same pool, then destroy.
    same = client.pool(pool.id, name, "demo::hello")
    assert type(same) is demo_hello.HelloPool and same.example("same", b"\x02", 0).sum == 2
    pool.destroy()
    e = expect(chimaera.TaskError, same.example, "gone", b"", 0)
    assert e.code == chimaera.TaskErrorCode.UNKNOWN_POOL, (e.code, e.message)

    chimaera.disconnect()
    expect(chimaera.RuntimeUnavailableError, same.example, "x", b"", 0)
    print("demo_hello from Python: OK")


if __name__ == "__main__":
    main()
