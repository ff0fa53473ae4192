"""Exceptions raised by the chimaera package (also raised by ``chimaera._core``).

Kept free of imports of ``_core`` so the extension can import it while the
package initialises.
"""
from __future__ import annotations

import enum


class TaskErrorCode(enum.IntEnum):
    """Return codes carried by every task (mirrors ``chi::TaskErrorCode``)."""

    OK = 0
    UNKNOWN_POOL = 1
    UNSUPPORTED_METHOD = 2
    MODULE_EXCEPTION = 3
    RUNTIME_STOPPING = 4
    RUNTIME_DEAD = 5
    BAD_ARGUMENT = 6
    UNKNOWN_MODULE = 7
    POOL_EXISTS = 8
    TIMED_OUT = 9
    NODE_UNREACHABLE = 10
    MODULE_ERROR_BASE = 1000


class ChimaeraError(Exception):
    """Base class of every error this package raises on purpose."""


class RuntimeUnavailableError(ChimaeraError, ConnectionError):
    """No runtime is reachable: none runs on that port, it died, or this
    process is not connected."""


class RuntimeStartError(ChimaeraError):
    """A runtime subprocess failed to start (bad configuration, port in use,
    executable missing). The message includes the end of its log."""


class TaskError(ChimaeraError):
    """A task completed with a non-zero return code.

    Attributes:
        code: the task's return code (see :class:`TaskErrorCode`; module
            specific codes start at 1000).
        message: the runtime's message, prefixed with the code's name.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = int(code)
        self.message = message

    def __reduce__(self):  # picklable across processes
        return (type(self), (self.code, self.message))

    def __new__(cls, code: int = 0, message: str = ""):
        # A failure to reach a node gets the subclass that says so.
        if cls is TaskError and int(code) == TaskErrorCode.NODE_UNREACHABLE:
            cls = NodeUnreachableError
        return super().__new__(cls)


class NodeUnreachableError(TaskError):
    """The task's node is dead, refused this node, or never answered
    (code NODE_UNREACHABLE); the message names the node and its address."""


def wrong_arguments(error: TypeError, call: str, args: tuple) -> TypeError:
    """The TypeError a generated module method raises for bad arguments.

    pybind11's "incompatible function arguments" names the binding's internal
    ``_x_async(pool_id, node, ...)``; this returns one in the caller's terms
    (``call`` is the public signature, ``args`` the values given). Other
    TypeErrors (e.g. a str where bytes go) are already clear and come back
    unchanged. Used by every generated ``<mod>_python.cc`` (issue 14)."""
    if "incompatible function arguments" not in str(error):
        return error
    got = ", ".join(type(a).__name__ for a in args)
    return TypeError(f"{call}: an argument has the wrong type or is out of its field's range; got ({got})")
