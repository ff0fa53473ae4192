"""Connections to a runtime and pools (DESIGN.md §10).

A process is attached to at most one runtime at a time (the C++
``IpcManager`` is a process-wide singleton): :func:`connect` to another port
detaches from the previous runtime, and every :class:`~chimaera.Future` of
the old connection then raises :class:`RuntimeUnavailableError`.

All methods may be called from any thread; blocking calls release the GIL.
"""
from __future__ import annotations

import importlib
import os
import threading
import zlib
from typing import Any

from . import _core
from ._errors import RuntimeUnavailableError, TaskError, TaskErrorCode
from .futures import Future

_lock = threading.Lock()


class Client:
    """This process's connection to the runtime on one port.

    Create with :func:`connect` (or get one from :class:`chimaera.Runtime`).
    """

    def __init__(self, port: int, host: str = "") -> None:
        self.port = int(port)
        self.host = host

    # -- connection ---------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while this process is attached to this client's runtime."""
        return _core.is_connected() and _core.connected_port() == self.port and _core.connected_host() == self.host

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The cluster as the attached node sees it: one dict per node with
        ``id``, ``address`` (host:port), ``state`` ('self', 'connecting',
        'alive', 'dead', 'refused'), ``alive``, ``incarnation``, ``load``,
        ``ms_since_heard``, ``in_flight`` and ``reason``; ``[]`` on a
        single-node runtime. Raises RuntimeUnavailableError."""
        self._check()
        return _core.nodes()

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
        the process queue), ``pools`` (dicts with ``id``, ``name``,
        ``module``: its qualified name, e.g. "chimaera::compressor"),
        ``modules`` (dicts with ``name``, qualified, and ``path``, the library
        it was loaded from), ``node_id``, ``host`` and ``segment``. Raises
        RuntimeUnavailableError."""
        self._check()
        return dict(_core.status())

    def alive(self) -> bool:
        """Whether the runtime process still lives (~10 µs)."""
        return self.connected and _core.runtime_alive()

    def create_pool(self, name: str, module: str, args: str = "", nodes: list[int] | None = None,
                    pool_id: int | None = None) -> "Pool":
        """Create a pool named ``name`` of module ``module`` (e.g. "small_message").

        The pool spans the cluster: ``nodes`` lists the nodes of its
        containers 0..N-1 (None: one container on every node, container k on
        node k); every node knows the pool by one id and name. All or none:
        if a node refuses or is down, the call raises naming it and no node
        keeps the pool. ``pool_id``: ask for that id (None: any). ``module`` may be qualified ("ns::mod") or bare
        when only one loaded module has that name; the pool's ``.module`` is
        the qualified name, and its class the one registered for it (e.g.
        the module's generated Python binding, see :func:`register_pool_class`).

        Raises:
            TaskError: unknown module (code UNKNOWN_MODULE), name in use (POOL_EXISTS),
                or the module's Create failed; NodeUnreachableError for a dead node.
            RuntimeUnavailableError: not connected, or the runtime died.
        """
        self._check()
        pid = _core.create_pool(name, module, args, _nodes(nodes), int(pool_id or 0))
        if "::" not in module:  # the runtime resolved a bare name: use the qualified one
            module = next((p["module"] for p in _core.status()["pools"] if p["id"] == pid), module)
        return _pool_class(module)(self, pid, name, module)

    def create_pool_async(self, name: str, module: str, args: str = "", nodes: list[int] | None = None,
                          pool_id: int | None = None) -> Future:
        """Like :meth:`create_pool`; the future's result is the pool id (int)
        (wrap it with :meth:`pool`)."""
        self._check()
        return Future(_core.create_pool_async(name, module, args, _nodes(nodes), int(pool_id or 0)))

    def pool(self, pool_id: int, name: str = "", module: str = "small_message") -> "Pool":
        """A :class:`Pool` for an existing pool id (e.g. created by another process);
        a :class:`CompressorPool` / :class:`BdevPool` for those modules, the
        generated class of a module with a Python binding (see
        :func:`register_pool_class`)."""
        return _pool_class(module)(self, int(pool_id), name, module)

    def destroy_pool(self, pool_id: int) -> None:
        """Destroy a pool by id on every node. Raises TaskError (UNKNOWN_POOL;
        NodeUnreachableError naming the nodes that are down, the others
        destroyed it all the same)."""
        self._check()
        _core.destroy_pool(int(pool_id))

    def stop_runtime(self, all_nodes: bool = False) -> int:
        """Ask the runtime to stop (admin StopRuntime), then detach.

        ``all_nodes``: stop every node of its cluster (the others first).
        Returns once the runtime accepted, with the number of nodes that did;
        they exit shortly after (code 0).
        """
        self._check()
        n = _core.stop_runtime(all_nodes)
        self.disconnect()
        return n

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
    # ``node``: the node whose container runs the task (a cluster's node id;
    # the remote queue carries it there); None: where the pool decides.
    def md(self, node: int | None = None, key: object = None, container: int | None = None) -> None:
        """One empty task, synchronously (a round trip). ``node`` / ``key`` /
        ``container``: where it runs (see :func:`_query`). Raises TaskError
        (NodeUnreachableError when the node is dead or unreachable)."""
        _core.md(self.id, _query(node, key, container))

    def md_async(self, node: int | None = None, key: object = None, container: int | None = None) -> Future:
        """Submit one empty task; returns its :class:`Future` (result None)."""
        return Future(_core.md_async(self.id, _query(node, key, container)))

    def md_broadcast(self) -> list[int]:
        """One empty task on every container of the pool (DomainQuery
        broadcast: one replica per container, each on its node); returns the
        nodes that ran it, in container order. Raises TaskError naming every
        replica that failed ("k of n replicas failed: container c (node N):
        ..."), NodeUnreachableError when one was on a dead node."""
        _core.md(self.id, _query(broadcast=True))
        return self.nodes()

    def nodes(self) -> list[int]:
        """The node of each of the pool's containers 0..N-1 (its map, the same
        on every node). Raises TaskError (UNKNOWN_POOL) if the pool is gone."""
        for p in _core.status()["pools"]:
            if p["id"] == self.id:
                return list(p["nodes"])
        raise TaskError(TaskErrorCode.UNKNOWN_POOL, f"no pool with id {self.id}")

    def submit_batch(self, n: int, node: int | None = None) -> list[Future]:
        """Submit ``n`` empty tasks in one call; returns their futures (in order).

        All ``n`` are in flight at once, so ``n`` is bounded by shared memory;
        for large counts use :meth:`md_batch`."""
        return [Future(h) for h in _core.md_submit(self.id, int(n), _node(node))]

    def md_batch(self, n: int, window: int = 256, node: int | None = None) -> int:
        """Run ``n`` empty tasks with at most ``window`` in flight, in a single
        call into C++ (GIL released). Returns how many succeeded; raises
        TaskError (the first failure) after all completed. Ctrl-C interrupts
        (KeyboardInterrupt, after in-flight tasks drained)."""
        return _core.md_batch(self.id, int(n), int(window), _node(node))

    def __repr__(self) -> str:
        return f"<chimaera.{type(self).__name__} id={self.id} name={self.name!r} module={self.module!r}>"


# DomainQuery kinds (chimaera/core/domain_query.h) as _core's query codes.
_LOCAL_HASH, _GLOBAL_NODE, _DIRECT_ID, _DIRECT_HASH, _RANGE, _BROADCAST = 2, 4, 5, 6, 7, 8


def _key_hash(key: object) -> int:
    """A hash of ``key`` that every process and node computes alike (CRC-32 of
    its bytes; an int is its own hash), unlike Python's salted ``hash``."""
    if isinstance(key, bool) or not isinstance(key, (int, str, bytes, bytearray, memoryview)):
        raise TypeError(f"key must be an int, str or bytes-like object, not {type(key).__name__}")
    if isinstance(key, int):
        return key & 0xFFFFFFFF
    data = key.encode() if isinstance(key, str) else bytes(key)
    return zlib.crc32(data)


def _query(node: int | None = None, key: object = None, container: int | None = None,
           broadcast: bool = False) -> int:
    """The DomainQuery of a call (seeds 000/001), as a code for ``_core``: at
    most one of ``node`` (that node's container: GetGlobalNode), ``key``
    (GetDirectHash: the same key reaches the same container from every node),
    ``container`` (GetDirectId) or ``broadcast`` (every container); none: the
    pool decides (Dynamic). Raises ValueError (several given, negative ids)."""
    given = [name for name, v in (("node", node), ("key", key), ("container", container)) if v is not None]
    if broadcast:
        given.append("broadcast")
    if len(given) > 1:
        raise ValueError(f"give at most one of node=, key=, container=, broadcast=; got {', '.join(given)}")
    if broadcast:
        return _BROADCAST << 56
    if key is not None:
        return (_DIRECT_HASH << 56) | _key_hash(key)
    for kind, v, what in ((_GLOBAL_NODE, node, "node"), (_DIRECT_ID, container, "container")):
        if v is not None:
            if int(v) < 0 or int(v) > 0xFFFFFFFF:
                raise ValueError(f"{what} must be an id (>= 0) or None, not {v}")
            return (kind << 56) | int(v)
    return -1


def _node(node: int | None) -> int:
    return _query(node=node)


def _nodes(nodes: list[int] | None) -> list[int]:
    if nodes is None:
        return []
    out = [int(n) for n in nodes]
    if not out or any(n < 0 for n in out):
        raise ValueError(f"nodes must be a non-empty list of node ids (>= 0) or None, not {nodes!r}")
    return out


_pool_classes: dict[str, type] = {}


def register_pool_class(module: str, cls: type) -> None:
    """Make :meth:`Client.create_pool` / :meth:`Client.pool` return ``cls``
    (a subclass of :class:`Pool`) for pools of ``module``, a qualified module
    name ("namespace::mod"). The generated Python binding of a module calls
    this when it is imported. Raises TypeError / ValueError on bad arguments."""
    if not (isinstance(cls, type) and issubclass(cls, Pool)):
        raise TypeError(f"register_pool_class: {cls!r} is not a subclass of chimaera.Pool")
    if "::" not in module:
        raise ValueError(f"register_pool_class: {module!r} is not a qualified module name ('namespace::mod')")
    _pool_classes[module] = cls


def _pool_class(module: str) -> type:
    """The Pool class of ``module``: a registered one; else, for a qualified
    name "ns::mod", the one the module's Python binding (the extension
    ``ns_mod`` on sys.path) registers when imported; else :class:`Pool`."""
    from . import modules  # noqa: F401,PLC0415 - registers CompressorPool / BdevPool
    if module in _pool_classes:
        return _pool_classes[module]
    if "::" not in module:
        matches = [c for m, c in _pool_classes.items() if m.split("::")[-1] == module]
        return matches[0] if len(matches) == 1 else Pool
    try:
        importlib.import_module(module.replace("::", "_"))
    except ImportError:
        return Pool  # no binding on sys.path: the generic pool
    return _pool_classes.get(module, Pool)


def connect(port: int | None = None, host: str | None = None) -> Client:
    """Attach this process to the runtime on ``port`` (None: ``$CHI_PORT`` or 9413).

    ``host`` picks one node of a cluster when several run on this machine
    with the same port (their node-table entries, e.g. ``"127.0.0.3"``;
    None: ``$CHI_HOST``, else the one runtime on that port).

    Raises:
        RuntimeUnavailableError: no live runtime on that port for this user,
            or several nodes share the port and no host was given.
    """
    with _lock:
        p = int(port) if port is not None else _core.default_port()
        h = host if host is not None else os.environ.get("CHI_HOST", "")
        _core.connect(p, h)
        return Client(p, h)


def disconnect() -> None:
    """Detach this process from its runtime, if any."""
    with _lock:
        _core.disconnect()
