"""Where the runtime daemon and the module libraries live.

Search order for the daemon executable ``chimaera_runtime``:

1. ``$CHIMAERA_RUNTIME_EXE`` (must name an executable file);
2. ``chimaera/bin/chimaera_runtime`` inside the installed package (a wheel);
3. ``$CHIMAERA_BUILD_DIR/bin`` then ``<repo>/build/bin`` in a source tree
   (the package imported from ``python/chimaera`` or an editable install);
4. ``chimaera_runtime`` on ``$PATH``.

Modules (``lib*_runtime.so``) are found by the runtime beside
``libchimaera_runtime.so``, i.e. in ``<exe dir>/../lib``; that directory is
also put first on ``CHI_REPO_PATH`` of a runtime started from Python.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

_PKG_DIR = Path(__file__).resolve().parent
EXE_NAME = "chimaera_runtime"


def _candidates() -> list[Path]:
    out: list[Path] = [_PKG_DIR / "bin" / EXE_NAME]
    build = os.environ.get("CHIMAERA_BUILD_DIR")
    if build:
        out.append(Path(build) / "bin" / EXE_NAME)
    out.append(_PKG_DIR.parent.parent / "build" / "bin" / EXE_NAME)
    return out


def runtime_executable() -> Path:
    """Absolute path of the ``chimaera_runtime`` daemon.

    Raises:
        FileNotFoundError: no executable found (the message lists where it looked).
    """
    env = os.environ.get("CHIMAERA_RUNTIME_EXE")
    if env:
        p = Path(env)
        if p.is_file() and os.access(p, os.X_OK):
            return p.resolve()
        raise FileNotFoundError(f"CHIMAERA_RUNTIME_EXE={env!r} is not an executable file")
    tried = _candidates()
    for p in tried:
        if p.is_file() and os.access(p, os.X_OK):
            return p.resolve()
    found = shutil.which(EXE_NAME)
    if found:
        return Path(found).resolve()
    raise FileNotFoundError(
        f"cannot find {EXE_NAME}: set CHIMAERA_RUNTIME_EXE, or build it (scripts/setup.sh); looked in "
        + ", ".join(str(p) for p in tried) + " and $PATH")


def module_dir(exe: Path | None = None) -> Path:
    """The directory holding the module libraries that match ``exe``."""
    exe = exe or runtime_executable()
    return (exe.parent.parent / "lib").resolve()
