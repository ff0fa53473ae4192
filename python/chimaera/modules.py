"""Pools of the shipped modules ``compressor`` and ``bdev`` (issue 6).

Get one from :meth:`chimaera.Client.create_pool` (or ``Runtime.create_pool``)::

    zip = rt.create_pool("zip", "compressor")
    packed, crc = zip.compress(b"hello" * 1000, codec="zstd", level=3)
    data, crc2 = zip.decompress(packed, original_size=5000)      # crc2 == crc

    dev = rt.create_pool("disk", "bdev", args="file=/tmp/dev.img,size=64m")
    off = dev.allocate(4096)
    dev.write(off, b"x" * 4096)
    assert dev.read(off, 4096) == b"x" * 4096
    dev.free(off, 4096)

**Data and shared memory.** The runtime is another process and only sees its
shared-memory segment, so every input is copied exactly once, from the
caller's buffer straight into a shm buffer (through the buffer protocol: no
intermediate Python copy), and every output is copied once out of shm into a
new ``bytes``. Inputs may be any C-contiguous bytes-like object: ``bytes``,
``bytearray``, ``memoryview``, ``array.array``, numpy arrays (their raw
bytes); a non-contiguous one raises ``BufferError`` (numpy: ``ValueError``). The shm buffers live as
long as their task (a dropped future's task and buffers are freed once it
completes). A buffer that does not fit in the segment raises ``MemoryError``
(start the runtime with a larger ``shm_size``).

Sizes and offsets are in bytes. Errors: :class:`chimaera.TaskError` with
``code`` :attr:`TaskErrorCode.BAD_ARGUMENT` (corrupt input, too small an
``original_size``, out-of-range / unallocated bdev range, no space, I/O
error), ``ValueError`` (unknown codec), ``MemoryError`` (shm full),
:class:`RuntimeUnavailableError`.
"""
from __future__ import annotations

from typing import Any, Sequence

from . import _core
from .client import Pool, _query, register_pool_class
from .futures import Future

Buffer = Any  # bytes-like: bytes, bytearray, memoryview, numpy.ndarray, ...

CODECS = ("zstd", "zlib")


def compress_bound(n: int, codec: str = "zstd") -> int:
    """Largest possible compressed size of ``n`` bytes with ``codec`` (bytes)."""
    return _core.compress_bound(codec, int(n))


class CompressorPool(Pool):
    """A pool of the ``compressor`` module: zstd (levels 1..22, default 3) and
    zlib (levels 1..9) compression in the runtime's workers.

    Results are ``(data: bytes, checksum: int)`` where ``checksum`` is the
    CRC-32 (zlib's) of the *uncompressed* bytes — the input of ``compress``,
    the output of ``decompress`` — so a round trip can be verified end to end.
    """

    def compress(self, data: Buffer, codec: str = "zstd", level: int = 3, key: object = None,
                 node: int | None = None) -> tuple[bytes, int]:
        """Compress ``data``; returns ``(compressed bytes, crc32 of data)``.

        Where it runs: ``key`` (str, bytes or int: GetDirectHash, the same key
        reaches the same container from every node), ``node`` (that node's
        container), or neither: the compressor places it on the least-loaded
        worker and node (Dynamic, Monitor(kGlobalSchedule)).
        Raises TaskError (BAD_ARGUMENT: bad level; NodeUnreachableError),
        ValueError (codec, both key and node), MemoryError (shm full).
        """
        return _core.compress(self.id, data, codec, int(level), _query(node, key))

    def decompress(self, data: Buffer, original_size: int, codec: str = "zstd", key: object = None,
                   node: int | None = None) -> tuple[bytes, int]:
        """Decompress ``data`` (made with ``codec``) into at most ``original_size`` bytes;
        returns ``(bytes, crc32 of them)``.

        Raises TaskError (BAD_ARGUMENT: corrupt input, or ``original_size`` too small).
        """
        return _core.decompress(self.id, data, int(original_size), codec, _query(node, key))

    def compress_async(self, data: Buffer, codec: str = "zstd", level: int = 3, key: object = None,
                       node: int | None = None) -> Future:
        """Submit a compression; the :class:`Future`'s result is ``(bytes, crc32)``.
        ``data`` is copied into shared memory before this returns (it may be
        reused). ``key`` / ``node``: as for :meth:`compress`."""
        return Future(_core.compress_async(self.id, data, codec, int(level), _query(node, key)))

    def decompress_async(self, data: Buffer, original_size: int, codec: str = "zstd", key: object = None,
                         node: int | None = None) -> Future:
        """Submit a decompression; the Future's result is ``(bytes, crc32)``."""
        return Future(_core.decompress_async(self.id, data, int(original_size), codec, _query(node, key)))

    def compress_many(self, buffers: Sequence[Buffer], codec: str = "zstd", level: int = 3,
                      window: int = 16) -> list[tuple[bytes, int]]:
        """Compress every buffer in one call into C++ (GIL released), with at
        most ``window`` tasks in flight (spread over the workers). Returns
        ``[(bytes, crc32)]`` in input order. Raises TaskError (the first failing
        item, by index) after every task completed; MemoryError if a single
        item does not fit in shared memory."""
        return _core.compress_many(self.id, buffers, codec, int(level), int(window))

    def decompress_many(self, buffers: Sequence[Buffer], original_sizes: Sequence[int],
                        codec: str = "zstd", window: int = 16) -> list[tuple[bytes, int]]:
        """Decompress every buffer (``original_sizes[i]`` bounds the output of
        ``buffers[i]``) in one call; like :meth:`compress_many`."""
        return _core.decompress_many(self.id, buffers, [int(n) for n in original_sizes], codec,
                                     int(window))


register_pool_class("chimaera::compressor", CompressorPool)

# bdev's pool class is generated from its task schema (cpp/chimods/bdev/
# chimaera_mod.yaml, issue 14): the extension chimaera_bdev beside _core
# defines and registers it on import.
try:
    from .chimaera_bdev import BdevPool  # noqa: E402
except ImportError as e:  # a build tree that built _core alone
    raise ImportError(f"chimaera: the generated bdev binding is missing or stale ({e}); rebuild the package "
                      f"(scripts/setup.sh, or cmake --build build --target chimaera_python_all)") from e

BdevPool.__doc__ = """A pool of the ``bdev`` module: a block device backed by a file (durable:
    a completed write is in the file) or by RAM. Create with
    ``args="file=PATH,size=64m[,block=4096]"`` or ``"ram,size=64m[,block=4096]"``.

    Methods (generated from the module's schema; each takes ``node=``, the
    node whose device serves it, default this node's; ``*_async`` forms return
    a :class:`Future` of the same result):

    - ``allocate(size) -> int``: ``size`` bytes rounded up to whole blocks;
      the byte offset. TaskError BAD_ARGUMENT: no space.
    - ``free(offset, size)``: free the blocks of ``[offset, offset + size)``.
      TaskError: not allocated.
    - ``write(offset, data)``: ``data`` (bytes-like, copied once into shared
      memory) at ``offset``; durable when it returns (file backend).
    - ``read(offset, n) -> bytes``: ``n`` bytes at ``offset`` (``n`` is the
      result's capacity, default 64 KiB).

    Every access is bounds-checked (TaskError BAD_ARGUMENT for an
    out-of-range or unallocated range). Tasks of one device run in submission
    order (one lane).
    """

__all__ = ["BdevPool", "CompressorPool", "CODECS", "compress_bound"]
