"""Build the chimaera Python package: a setuptools build_ext that drives CMake.

`build_ext` configures the CMake project with -DCHI_BUILD_PYTHON=ON and builds
the `chimaera_python_all` target (the _core extension, the chimaera_runtime
daemon and the module libraries) with Ninja, then:

- editable install (`pip install -e .`): the extension is written straight
  into python/chimaera/ by CMake; the package finds the daemon in build/bin
  at run time (chimaera._paths), so a rebuilt daemon is picked up at once;
- regular install / wheel: the extension, bin/chimaera_runtime,
  lib/libchimaera_*.so (RPATHs $ORIGIN/lib, $ORIGIN/../lib) and the code
  generator with its templates (_codegen/) are copied into the package.

Environment: CHIMAERA_CMAKE_BUILD_DIR (default: <repo>/build), CHI_JOBS
(parallel jobs, default 2), CHIMAERA_CMAKE_ARGS (extra -D options).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
PKG_SRC = ROOT / "python" / "chimaera"


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def run(self) -> None:
        for ext in self.extensions:
            self.build_extension(ext)

    def build_extension(self, ext: Extension) -> None:
        build_dir = Path(os.environ.get("CHIMAERA_CMAKE_BUILD_DIR", ROOT / "build")).resolve()
        jobs = os.environ.get("CHI_JOBS", "2")
        editable = bool(self.inplace or getattr(self, "editable_mode", False))
        # Editable: CMake writes _core into the source package, so every later
        # `ninja -C build` keeps it fresh. Otherwise: into the build tree, copied below.
        out_dir = PKG_SRC if editable else build_dir / "python" / "chimaera"
        cfg = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja", "-DCHI_BUILD_PYTHON=ON",
               f"-DCHI_PYTHON_OUTPUT_DIR={out_dir}"]
        cache = build_dir / "CMakeCache.txt"
        cached = cache.read_text(errors="replace") if cache.exists() else ""
        if not cached:
            cfg.append("-DCMAKE_BUILD_TYPE=RelWithDebInfo")
        if "Python3_EXECUTABLE:" not in cached:  # keep scripts/setup.sh's choice (same venv)
            cfg.append(f"-DPython3_EXECUTABLE={sys.executable}")
        cfg += shlex.split(os.environ.get("CHIMAERA_CMAKE_ARGS", ""))
        subprocess.check_call(cfg)
        subprocess.check_call(["cmake", "--build", str(build_dir), "-j", jobs, "--target", "chimaera_python_all"])

        dest = Path(self.get_ext_fullpath(ext.name)).resolve()
        built = out_dir / dest.name
        if not built.exists():
            raise RuntimeError(f"CMake did not produce {built}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest != built.resolve():
            shutil.copy2(built, dest)
        # The shipped modules' generated bindings (chimaera_bdev, ...) beside _core.
        suffix = dest.name[len("_core"):]
        for generated in sorted(out_dir.glob(f"chimaera_*{suffix}")):
            if generated.resolve() != (dest.parent / generated.name).resolve():
                shutil.copy2(generated, dest.parent / generated.name)
        if editable:
            return  # dev tree: the daemon and modules stay in the build directory
        bin_dir, lib_dir = dest.parent / "bin", dest.parent / "lib"
        bin_dir.mkdir(exist_ok=True)
        lib_dir.mkdir(exist_ok=True)
        shutil.copy2(build_dir / "bin" / "chimaera_runtime", bin_dir / "chimaera_runtime")
        for so in sorted((build_dir / "lib").glob("libchimaera_*.so*")):
            shutil.copy2(so, lib_dir / so.name, follow_symlinks=True)
        # The code generator and scaffolding templates, for `chimaera gen/new-repo/new-mod`
        # (chimaera/_codegen/chimaera_codegen finds ../chimod_templates).
        codegen = dest.parent / "_codegen"
        for src, name in ((ROOT / "generators" / "chimaera_codegen", "chimaera_codegen"),
                          (ROOT / "chimod_templates", "chimod_templates")):
            if src.is_dir():
                shutil.copytree(src, codegen / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(ext_modules=[CMakeExtension("chimaera._core")], cmdclass={"build_ext": CMakeBuild})
