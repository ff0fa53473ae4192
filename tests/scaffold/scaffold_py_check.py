"""Python half of scaffold_e2e.sh: the generated extension demo_hello against a
running runtime (issue 5).

usage: python scaffold_py_check.py PORT PREFIX_LIB [--dedup-only]

Run with the scaffolded build's python/ on PYTHONPATH and the `chimaera`
package importable. Checks:
  * chimaera._core and demo_hello map ONE libchimaera_client.so (the dynamic
    loader reuses a loaded SONAME), from PREFIX_LIB unless --dedup-only;
  * that one IpcManager is shared: demo_hello is connected exactly when
    chimaera is (chimaera.connect / disconnect, no connect in demo_hello);
  * demo_hello.TaskError / RuntimeUnavailableError are chimaera's;
  * Client.create / pool_id / example (bytes, bytearray, memoryview, empty)
    / destroy, the TaskError paths (empty label, pool exists, unknown pool),
    calls from several threads at once (the GIL is released while waiting).
--dedup-only: only import both and check the single library copy.
Exit status 0 when every check passed.
"""
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

    assert demo_hello.TaskError is chimaera.TaskError
    assert demo_hello.RuntimeUnavailableError is chimaera.RuntimeUnavailableError
    assert not demo_hello.connected() and demo_hello.connected_port() == 0
    e = expect(chimaera.RuntimeUnavailableError, demo_hello.Client().create, "nope")
    assert "chimaera.connect" in str(e), e

    deadline = time.monotonic() + 10  # the runtime may still be starting
    while True:
        try:
            chimaera.connect(port)
            break
        except chimaera.RuntimeUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    # One IpcManager: chimaera.connect attached the one demo_hello uses too.
    assert demo_hello.connected() and demo_hello.connected_port() == port

    c = demo_hello.Client()
    assert c.pool_id == 0
    expect(ValueError, c.example, "x", b"", 0)
    name = f"hello_py_{os.getpid()}"
    c.create(name)
    assert c.pool_id > 0, c.pool_id
    r = c.example("lbl", b"\x01\x02\x03", 5)
    assert r == {"counter": 6, "sum": 6, "message": "lbl: 3 bytes, sum 6"}, r
    big = bytearray(range(256)) * 256
    r = c.example("big", memoryview(big), 0, hash=1)
    assert r["sum"] == 255 * 128 * 256 and r["counter"] == 1, r
    assert c.example("ba", bytearray(b"\xff" * 10))["sum"] == 2550
    expect(BufferError, c.example, "strided", memoryview(big)[::2])
    expect(TypeError, c.example, "str", "not bytes")
    assert c.example("empty", b"", 41) == {"counter": 42, "sum": 0, "message": "empty: 0 bytes, sum 0"}

    e = expect(chimaera.TaskError, c.example, "", b"\x01", 0)
    assert e.code == chimaera.TaskErrorCode.BAD_ARGUMENT and "non-empty label" in e.message, (e.code, e.message)
    e = expect(chimaera.TaskError, demo_hello.Client().create, name)
    assert e.code == chimaera.TaskErrorCode.POOL_EXISTS, (e.code, e.message)

    # Several Python threads at once (each call releases the GIL while waiting).
    errors = []

    def worker(i):
        try:
            for k in range(50):
                got = c.example(f"t{i}", bytes([i, k]), k, hash=i)
                assert got["sum"] == i + k and got["counter"] == k + 1, got
        except BaseException as ex:  # noqa: BLE001 - reported below
            errors.append(ex)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors

    # Another process-level view of the same pool, then destroy.
    same = demo_hello.Client(pool_id=c.pool_id)
    assert same.example("same", b"\x02")["sum"] == 2
    pool_id = c.pool_id
    c.destroy()
    assert c.pool_id == 0
    expect(ValueError, c.destroy)
    e = expect(chimaera.TaskError, demo_hello.Client(pool_id=pool_id).destroy)
    assert e.code == chimaera.TaskErrorCode.UNKNOWN_POOL, (e.code, e.message)

    chimaera.disconnect()
    assert not demo_hello.connected()
    expect(chimaera.RuntimeUnavailableError, same.example, "x", b"")
    print("demo_hello from Python: OK")


if __name__ == "__main__":
    main()
