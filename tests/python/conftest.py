"""Fixtures of the Python suite: a real chimaera_runtime per test, on a unique port.

The package is used as installed (scripts/setup.sh installs it editable into
.venv); without an install the source tree's python/ is put on sys.path (the
_core extension must then have been built into python/chimaera by CMake).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
try:
    import chimaera  # noqa: F401
except ImportError:
    # Not installed: use the source tree (its _core must have been built).
    # Failing here would also break the suites that do not need chimaera
    # (test_codegen, test_scaffold), so only the runtime tests fail to import.
    sys.path.insert(0, str(REPO / "python"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "python")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))


@pytest.fixture
def runtime():
    """A started runtime (2 workers, 64 MiB), this process connected; stopped after the test."""
    import chimaera

    rt = chimaera.start(workers=2, shm_size="64m", log_level="warn")
    try:
        yield rt
    finally:
        rc = rt.stop()
        assert rc in (0, None) or rt.returncode is not None


@pytest.fixture
def pool(runtime):
    """A small_message pool on the test's runtime."""
    return runtime.create_pool("test_pool", "small_message")


def child_env() -> dict[str, str]:
    """Environment for a child Python process that must import the same chimaera."""
    env = dict(os.environ)
    import chimaera

    pkg_parent = str(Path(chimaera.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _all_threads_stopped(pid: int) -> bool:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
        for tid in tids:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state not in ("T", "t"):
                return False
        return True
    except FileNotFoundError:
        return True


class Frozen:
    """Context manager: SIGSTOP the runtime (waiting until every thread is
    stopped, so no task submitted inside can complete) and SIGCONT it on exit."""

    def __init__(self, runtime) -> None:
        self.pid = runtime.pid

    def __enter__(self) -> "Frozen":
        import signal
        import time

        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not _all_threads_stopped(self.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("runtime did not stop")
            time.sleep(0.001)
        return self

    def thaw(self) -> None:
        import signal

        try:
            os.kill(self.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    def __exit__(self, *exc: object) -> None:
        self.thaw()
