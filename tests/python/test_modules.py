"""The shipped modules from Python (issue 6): compressor and bdev.

One runtime for the whole file (module scope) to keep the suite short; each
test makes its own pools.
"""
from __future__ import annotations

import array
import asyncio
import gc
import itertools
import os
import time
import zlib

import pytest

import chimaera
from chimaera import TaskError, TaskErrorCode

_names = itertools.count()


@pytest.fixture(scope="module")
def rt():
    r = chimaera.start(workers=1, shm_size="128m", log_level="warn")
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def zip_pool(rt):
    p = rt.create_pool(f"zip{next(_names)}", "compressor")
    yield p
    p.destroy()


@pytest.fixture
def ram_dev(rt):
    d = rt.create_pool(f"ram{next(_names)}", "bdev", args="ram,size=4m")
    yield d
    d.destroy()


def corpus(n: int) -> bytes:
    """Compressible but not trivial: text with random bytes mixed in."""
    text = b"".join(b"line %d of the corpus, some words repeat; " % i for i in range(n // 40 + 1))
    noise = os.urandom(n // 8)
    return (text[: n - len(noise)] + noise)[:n]


# ------------------------------------------------------------------ compressor

def test_pool_types(zip_pool, ram_dev):
    assert isinstance(zip_pool, chimaera.CompressorPool)
    assert isinstance(ram_dev, chimaera.BdevPool)
    assert "CompressorPool" in repr(zip_pool)


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
@pytest.mark.parametrize("size", [0, 1, 1000, 1 << 20])
def test_round_trip(zip_pool, codec, size):
    data = corpus(size)
    packed, crc = zip_pool.compress(data, codec=codec)
    assert crc == zlib.crc32(data)
    if size >= 1000:
        assert len(packed) < size
    assert len(packed) <= chimaera.compress_bound(size, codec)
    out, crc2 = zip_pool.decompress(packed, size, codec=codec)
    assert out == data and crc2 == crc
    assert isinstance(out, bytes)


def test_levels_and_codec_interop(zip_pool):
    data = corpus(200_000)
    fast, _ = zip_pool.compress(data, level=1)
    best, _ = zip_pool.compress(data, level=19)
    assert len(best) <= len(fast)
    z, _ = zip_pool.compress(data, codec="zlib", level=9)
    assert zlib.decompress(z) == data  # real zlib stream


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "slice", "array"])
def test_bytes_like_inputs(zip_pool, kind):
    data = corpus(50_000)
    buf = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "slice": memoryview(b"xx" + data + b"yy")[2:-2],
        "array": array.array("B", data),
    }[kind]
    packed, crc = zip_pool.compress(buf)
    assert crc == zlib.crc32(data)
    assert zip_pool.decompress(bytearray(packed), len(data))[0] == data


def test_numpy_input(zip_pool):
    np = pytest.importorskip("numpy")
    a = np.arange(100_000, dtype=np.int64)
    packed, crc = zip_pool.compress(a)
    assert crc == zlib.crc32(a.tobytes())
    out, _ = zip_pool.decompress(packed, a.nbytes)
    assert np.array_equal(np.frombuffer(out, dtype=np.int64), a)
    with pytest.raises((BufferError, ValueError)):  # numpy raises ValueError
        zip_pool.compress(a[::2])  # not contiguous


def test_corrupt_input_raises(zip_pool):
    for codec in ("zstd", "zlib"):
        with pytest.raises(TaskError) as ei:
            zip_pool.decompress(b"definitely not a compressed stream", 1000, codec=codec)
        assert ei.value.code == TaskErrorCode.BAD_ARGUMENT
    data = corpus(10_000)
    packed, _ = zip_pool.compress(data)
    with pytest.raises(TaskError):  # output buffer too small
        zip_pool.decompress(packed, 100)
    # truncated stream
    with pytest.raises(TaskError):
        zip_pool.decompress(packed[: len(packed) // 2], len(data))
    # the pool still works after errors
    assert zip_pool.decompress(packed, len(data))[0] == data


def test_bad_codec(zip_pool):
    with pytest.raises(ValueError):
        zip_pool.compress(b"x", codec="lz4")


def test_async(zip_pool):
    data = corpus(300_000)
    futs = [zip_pool.compress_async(data, level=l) for l in (1, 3, 5)]
    res = [f.result(timeout=10) for f in futs]
    assert all(crc == zlib.crc32(data) for _, crc in res)
    back = zip_pool.decompress_async(res[0][0], len(data))
    assert back.result(10)[0] == data
    bad = zip_pool.decompress_async(b"junk", 10)
    assert isinstance(bad.exception(10), TaskError)

    async def main():
        packed, _ = await zip_pool.compress_async(data)
        out, _ = await zip_pool.decompress_async(packed, len(data))
        return out

    assert asyncio.run(main()) == data


def test_dropped_futures_free_their_buffers(zip_pool):
    data = corpus(1 << 20)
    for _ in range(10):  # 200 x (1 MiB in + ~1 MiB out) > 128 MiB if leaked
        futs = [zip_pool.compress_async(data) for _ in range(20)]
        last = futs[-1]
        del futs  # 19 dropped while (probably) running: buried, freed once complete
        gc.collect()
        chimaera.wait_all([last], timeout=30)
        time.sleep(0.05)
        last.result()
    out = zip_pool.compress_many([data] * 8)
    assert len(out) == 8


def test_many(zip_pool):
    bufs = [corpus(n) for n in (0, 10, 5000, 100_000, 1 << 20)] * 4
    packed = zip_pool.compress_many(bufs, window=4)
    assert [c for _, c in packed] == [zlib.crc32(b) for b in bufs]
    back = zip_pool.decompress_many([p for p, _ in packed], [len(b) for b in bufs], window=3)
    assert [d for d, _ in back] == bufs
    assert zip_pool.compress_many([]) == []


def test_many_out_of_order_completion(rt):
    """Two workers finish small tasks while a large one runs: each result
    still lands at its input's index (the batch retires tasks as they
    complete, not in input order)."""
    try:
        _two_worker_batches()
    finally:
        chimaera.connect(rt.port)  # the module's runtime again, for the tests after this one


def _two_worker_batches():
    with chimaera.start(workers=2, shm_size="256m", log_level="warn") as two:
        pool = two.create_pool("zip_two_workers", "compressor")
        bufs = []
        for i in range(60):
            bufs.append(corpus(4 << 20) if i % 20 == 0 else corpus(100 + 37 * i))
        packed = pool.compress_many(bufs, level=9, window=8)
        assert [c for _, c in packed] == [zlib.crc32(b) for b in bufs]
        back = pool.decompress_many([p for p, _ in packed], [len(b) for b in bufs], window=8)
        assert [d for d, _ in back] == bufs
        with pytest.raises(TaskError) as ei:
            pool.decompress_many([packed[0][0], b"bad", packed[1][0], b"worse"], [len(bufs[0]), 9, len(bufs[1]), 9])
        assert "item 1" in str(ei.value)


def test_many_reports_first_failure(zip_pool):
    good, _ = zip_pool.compress(b"hello" * 100)
    with pytest.raises(TaskError) as ei:
        zip_pool.decompress_many([good, b"bad", good, b"worse"], [500] * 4)
    assert ei.value.code == TaskErrorCode.BAD_ARGUMENT
    assert "item 1" in str(ei.value)
    with pytest.raises(ValueError):
        zip_pool.decompress_many([good], [1, 2])


def test_too_big_for_shm(zip_pool):
    with pytest.raises(MemoryError):
        zip_pool.decompress(b"x", 1 << 40)


def test_method_of_another_module_is_refused_not_run(rt):
    # small_message's md (method 10) on a compressor pool (whose method 10 is
    # Compress) or a bdev pool (Allocate): the task is not of their type.
    for module, args in (("compressor", ""), ("bdev", "ram,size=1m")):
        p = rt.create_pool(f"{module}{next(_names)}", module, args)
        try:
            with pytest.raises(TaskError) as ei:
                p.md()
            assert ei.value.code == TaskErrorCode.UNSUPPORTED_METHOD
            assert "of another type" in ei.value.message
            f = p.md_async()
            assert f.exception(timeout=5).code == TaskErrorCode.UNSUPPORTED_METHOD
        finally:
            p.destroy()


def test_wrong_module_method(rt):
    p = rt.create_pool(f"sm{next(_names)}", "small_message")
    try:
        with pytest.raises(TaskError) as ei:
            # method ids are per module: compress (10) is small_message's md, decompress (11) is unknown
            chimaera._core.decompress(p.id, b"abc", 10)
        assert ei.value.code == TaskErrorCode.UNSUPPORTED_METHOD
    finally:
        p.destroy()


# ------------------------------------------------------------------ bdev

def test_bdev_ram_round_trip(ram_dev):
    a = ram_dev.allocate(10_000)
    b = ram_dev.allocate(4096)
    assert a != b
    data = corpus(10_000)
    ram_dev.write(a, data)
    ram_dev.write(b, memoryview(b"z" * 4096))
    assert ram_dev.read(a, 10_000) == data
    assert ram_dev.read(a + 100, 50) == data[100:150]
    assert ram_dev.read(b, 4096) == b"z" * 4096
    ram_dev.free(a, 10_000)
    ram_dev.free(b, 4096)


def test_bdev_async(ram_dev):
    off = ram_dev.allocate(1 << 20)
    data = os.urandom(1 << 20)
    writes = [ram_dev.write_async(off + i * 65536, data[i * 65536:(i + 1) * 65536]) for i in range(16)]
    assert chimaera.wait_all(writes, timeout=10)
    assert all(w.result() is None for w in writes)
    reads = [ram_dev.read_async(off + i * 65536, 65536) for i in range(16)]
    assert b"".join(r.result(10) for r in reads) == data


def test_bdev_pool_is_generated_and_runs_in_submission_order(rt):
    # BdevPool comes from bdev's task schema (the generated chimaera_bdev);
    # each device's tasks run in submission order on one lane, so a read
    # submitted right after a write (neither waited) sees the write, also with
    # two workers that could run them at once.
    try:
        with chimaera.start(workers=2, shm_size="64m", log_level="warn") as two:
            _bdev_in_order(two.create_pool(f"gen{next(_names)}", "bdev", args="ram,size=1m"))
    finally:
        chimaera.connect(rt.port)  # the module's runtime again, for the tests after this one


def _bdev_in_order(dev):
    try:
        assert type(dev).__module__ == "chimaera.chimaera_bdev"
        off = dev.allocate(1 << 16, node=0)
        for i in range(200):
            data = os.urandom(1 << 16)
            w = dev.write_async(off, data)
            r = dev.read_async(off, 1 << 16)
            assert r.result(10) == data, i
            assert w.result(10) is None
        dev.free(off, 1 << 16)
    finally:
        dev.destroy()


def test_bdev_bounds_errors(ram_dev):
    size = 4 << 20
    off = ram_dev.allocate(4096)
    for call in (lambda: ram_dev.read(size, 1),
                 lambda: ram_dev.read(size - 10, 20),
                 lambda: ram_dev.write(size + 4096, b"x"),
                 lambda: ram_dev.write(off + 4000, b"x" * 200),   # runs past the allocation
                 lambda: ram_dev.free(off + 8192, 4096),          # not allocated
                 lambda: ram_dev.allocate(size * 2)):             # no space
        with pytest.raises(TaskError) as ei:
            call()
        assert ei.value.code == TaskErrorCode.BAD_ARGUMENT, ei.value
    ram_dev.free(off, 4096)
    with pytest.raises(TaskError):
        ram_dev.free(off, 4096)  # double free


def test_bdev_file_durability(rt, tmp_path):
    path = tmp_path / "dev.img"
    dev = rt.create_pool(f"file{next(_names)}", "bdev", args=f"file={path},size=1m,block=4096")
    try:
        off = dev.allocate(8192)
        data = corpus(8192)
        dev.write(off, data)
        # Durable once write() returned: read the backing file directly.
        with open(path, "rb") as f:
            f.seek(off)
            assert f.read(8192) == data
        assert dev.read(off, 8192) == data
    finally:
        dev.destroy()
    assert path.read_bytes()[off:off + 8192] == data


def test_bdev_bad_args(rt, tmp_path):
    with pytest.raises(TaskError):
        rt.create_pool(f"bad{next(_names)}", "bdev", args="nonsense")
    with pytest.raises(TaskError):
        rt.create_pool(f"bad{next(_names)}", "bdev", args=f"file={tmp_path}/no/such/dir/x,size=1m")
