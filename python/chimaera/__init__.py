"""Chimaera: a modular task runtime for HPC and storage systems — Python API.

Quick start::

    import chimaera
    with chimaera.start(workers=2) as rt:          # a daemon subprocess
        pool = rt.create_pool("demo", "small_message")
        pool.md()                                   # synchronous task
        fut = pool.md_async()                       # Future: done(), result(timeout), await
        n = pool.md_batch(100_000, window=256)      # one call into C++
        pool.destroy()
        zip = rt.create_pool("zip", "compressor")  # chimaera.CompressorPool
        packed, crc = zip.compress(b"data" * 1000, codec="zstd")
        dev = rt.create_pool("disk", "bdev", args="ram,size=64m")  # chimaera.BdevPool

Or attach to a running runtime: ``client = chimaera.connect(port)``.

Several nodes on this machine (127.0.0.2, 127.0.0.3, ...; see :mod:`chimaera.cluster`)::

    with chimaera.start_cluster(local=3) as cl:
        pool = cl.client.create_pool("p", "small_message")  # a container on every node
        pool.md(node=2)                                     # runs on node 2

Units: times in seconds (float), sizes in bytes or strings like "64m".
Errors: :class:`TaskError` (a task failed; ``.code``, ``.message``),
:class:`RuntimeUnavailableError` (no runtime / it died), :class:`RuntimeStartError`,
``TimeoutError`` (``Future.result(timeout)``).
"""
from __future__ import annotations

from ._errors import (ChimaeraError, NodeUnreachableError, RuntimeStartError, RuntimeUnavailableError, TaskError,
                      TaskErrorCode)
from . import _core
from .futures import Future, as_completed, wait_all
from .client import Client, Pool, connect, disconnect, register_pool_class
from .runtime import Runtime, start
from .cluster import Cluster, ClusterStopError, start_cluster
from .modules import BdevPool, CompressorPool, compress_bound

__version__ = "0.1.0"


def submit_batch(pool: Pool, n: int) -> list[Future]:
    """Submit ``n`` empty tasks to ``pool`` in one call; their futures. See Pool.submit_batch."""
    return pool.submit_batch(n)


__all__ = [
    "BdevPool", "ChimaeraError", "Client", "Cluster", "ClusterStopError", "CompressorPool", "compress_bound", "Future", "NodeUnreachableError", "Pool",
    "Runtime", "RuntimeStartError",
    "RuntimeUnavailableError", "TaskError", "TaskErrorCode", "as_completed", "connect",
    "disconnect", "register_pool_class", "start", "start_cluster", "submit_batch", "wait_all", "__version__",
]
