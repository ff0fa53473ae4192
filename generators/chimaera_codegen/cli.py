"""Command line: ``chimaera-gen {gen,check} MODULE_DIR``,
``chimaera-gen new-repo PATH --namespace NS``, ``chimaera-gen new-mod REPO MOD``.

Exit codes: 0 success / up to date; 1 ``check`` found stale or missing
headers; 2 invalid input (each problem printed as FILE:LINE: error: ...,
nothing written), bad usage, or new-repo/new-mod refused (bad name, an
existing file, not a repo; nothing written).
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys
from typing import List, Optional

from .model import CodegenError, load_module
from .render import render, write_outputs
from .scaffold import ScaffoldError, new_mod, new_repo

EXIT_OK, EXIT_STALE, EXIT_INVALID = 0, 1, 2

DESCRIPTION = """\
Generate a ChiMod's autogen files (<mod>_methods.h, <mod>_lib_exec.h,
<mod>_schema.h, <mod>_python.cc) from MODULE_DIR/chimaera_mod.yaml and the
repo's chimaera_repo.yaml (DESIGN.md §6).

chimaera_mod.yaml maps method names to ids:
  kCreate: 0 .. kUpgrade: 5     inherited methods (-1 = not supported)
  kCompress: 10                 custom methods, ids >= 10; hand-written task CompressTask
  kMd: {id: 10, task: MdTask}   custom method with an explicit task type
  kGet: {id: 11, in: {key: string}, out: {value: bytes, found: bool}}
                                the task schema: task, client calls, serialization
                                and Python binding generated; types: i8..i64 u8..u64
                                f32 f64 bool string bytes bytes(SIZE) pool_id list[T]

new-repo / new-mod scaffold a ChiMod repo and its modules (see their --help).
"""

EPILOG = """\
exit status: 0 ok, 1 'check' found stale headers, 2 invalid input or usage
(or new-repo/new-mod refused).
examples:
  chimaera-gen gen cpp/chimods/admin                 # writes cpp/chimods/admin/autogen/
  chimaera-gen gen cpp/chimods/admin --out build/x   # writes build/x/
  chimaera-gen check cpp/chimods/admin               # CI: fail when autogen/ is stale
  chimaera-gen new-repo ~/my_repo --namespace demo   # scaffold a ChiMod repo
  chimaera-gen new-mod ~/my_repo hello               # scaffold module demo::hello in it
"""

NEW_REPO_DESCRIPTION = """\
Create a ChiMod repo (seed 002 "Module Repo") at PATH (created if missing):
  PATH/chimaera_repo.yaml   the repo's C++ namespace NS
  PATH/CMakeLists.txt       find_package(chimaera REQUIRED) + one add_subdirectory per module
  PATH/.gitignore           the build folders (/build*/)
Add modules with 'chimaera new-mod PATH MOD'. Refuses (exit 2, nothing
written) when NS is not a C++ identifier, or when a file to be written exists.
"""

NEW_MOD_DESCRIPTION = """\
Create module MOD in the ChiMod repo REPO (a directory with chimaera_repo.yaml)
and add 'add_subdirectory(MOD)' to REPO/CMakeLists.txt. Files written:
  MOD/chimaera_mod.yaml          methods; kExample declared with its fields (in/out/inout)
  MOD/CMakeLists.txt             chimaera_add_module(... PYTHON) + the test program
  MOD/include/MOD/MOD_client.h   class Client : public GeneratedClient (add hand-written calls)
  MOD/src/MOD_runtime.cc         the handlers you write (Example) and the concurrency contract
  MOD/test/MOD_test.cc           client program: exit 0 when every check passes
  MOD/autogen/MOD_methods.h      method ids                    generated from chimaera_mod.yaml
  MOD/autogen/MOD_lib_exec.h     dispatch by method id         (the build regenerates them;
  MOD/autogen/MOD_schema.h       tasks + GeneratedClient       'chimaera gen MOD' refreshes
  MOD/autogen/MOD_python.cc      Python module NS_MOD          these checked-in copies)
Refuses (exit 2, nothing written) when MOD is not a C++ identifier, REPO is not
a repo, or REPO/MOD exists.
"""

NEW_EPILOG = """\
then build against an installed Chimaera and run:
  cmake -G Ninja -S REPO -B build -DCMAKE_PREFIX_PATH=<chimaera prefix> && cmake --build build
  CHI_REPO_PATH=$PWD/build/lib chimaera_runtime &
  build/bin/MOD_test
  PYTHONPATH=build/python python3 -c "import chimaera; c = chimaera.connect(); \\
      print(c.create_pool('p', 'NS::MOD').example('hi', b'abc', 0))"
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chimaera-gen", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", metavar="{gen,check,new-repo,new-mod}")
    sub.required = True

    def common(sp):
        sp.add_argument("module_dir", metavar="MODULE_DIR",
                        help="module directory holding chimaera_mod.yaml")
        sp.add_argument("--repo-yaml", metavar="PATH",
                        help="the repo's chimaera_repo.yaml (default: MODULE_DIR/../chimaera_repo.yaml)")
        sp.add_argument("--expect-namespace", metavar="NS",
                        help="fail unless the repo namespace is NS (used by CMake to catch a "
                             "NAMESPACE argument that disagrees with chimaera_repo.yaml)")

    g = sub.add_parser("gen", help="write the autogen files (only those whose content changed)",
                       description="Write <mod>_methods.h, <mod>_lib_exec.h, <mod>_schema.h and "
                                   "<mod>_python.cc. Files whose content is unchanged are not rewritten.")
    common(g)
    g.add_argument("--out", metavar="DIR", help="output directory (default: MODULE_DIR/autogen)")
    g.add_argument("-q", "--quiet", action="store_true", help="do not list written files")

    c = sub.add_parser("check", help="exit 1 (with a diff) if MODULE_DIR/autogen is stale",
                       description="Compare MODULE_DIR/autogen with what 'gen' would write; "
                                   "exit 1 and print a unified diff when they differ.")
    common(c)

    r = sub.add_parser("new-repo", help="scaffold a ChiMod repo", description=NEW_REPO_DESCRIPTION,
                       epilog=NEW_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("path", metavar="PATH", help="repo directory to create")
    r.add_argument("--namespace", "-n", metavar="NS", required=True,
                   help="C++ namespace of the repo's modules and CMake namespace of their targets")
    r.add_argument("-q", "--quiet", action="store_true", help="do not list written files")

    m = sub.add_parser("new-mod", help="scaffold a module in a ChiMod repo", description=NEW_MOD_DESCRIPTION,
                       epilog=NEW_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("repo", metavar="REPO", help="the repo directory (holds chimaera_repo.yaml)")
    m.add_argument("mod", metavar="MOD", help="module name (a C++ identifier)")
    m.add_argument("-q", "--quiet", action="store_true", help="do not list written files")
    return p


def _scaffold(args) -> int:
    try:
        if args.cmd == "new-repo":
            written = new_repo(args.path, args.namespace)
        else:
            written = new_mod(args.repo, args.mod)
    except ScaffoldError as e:
        print(f"chimaera-gen {args.cmd}: error: {e}", file=sys.stderr)
        print(f"chimaera-gen {args.cmd}: no files written", file=sys.stderr)
        return EXIT_INVALID
    except OSError as e:
        print(f"chimaera-gen {args.cmd}: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    if not args.quiet:
        for path in written:
            print(f"chimaera-gen: wrote {path}")
    return EXIT_OK


def _load(args):
    mod = load_module(args.module_dir, args.repo_yaml)
    if args.expect_namespace is not None and mod.namespace != args.expect_namespace:
        raise CodegenError([f"{mod.repo_yaml}:1: namespace is {mod.namespace!r} but the build "
                            f"declares the module in {args.expect_namespace!r}"])
    return mod


def _gen(args) -> int:
    mod = _load(args)
    files = render(mod)  # everything rendered before anything is written
    out_dir = args.out or os.path.join(args.module_dir, "autogen")
    for path in write_outputs(files, out_dir):
        if not args.quiet:
            print(f"chimaera-gen: wrote {path}")
    return EXIT_OK


def _check(args) -> int:
    mod = _load(args)
    out_dir = os.path.join(args.module_dir, "autogen")
    stale = False
    for name, want in sorted(render(mod).items()):
        path = os.path.join(out_dir, name)
        try:
            with open(path, "r", encoding="utf-8", newline="") as f:
                have = f.read()
        except OSError:
            print(f"chimaera-gen: {path}: missing", file=sys.stderr)
            stale = True
            continue
        if have != want:
            stale = True
            sys.stdout.writelines(difflib.unified_diff(
                have.splitlines(keepends=True), want.splitlines(keepends=True),
                fromfile=f"{path} (checked in)", tofile=f"{path} (generated)"))
    if stale:
        print(f"chimaera-gen: {out_dir} is stale; run: chimaera gen {args.module_dir}"
              f"   (or chimaera-gen gen {args.module_dir})", file=sys.stderr)
        return EXIT_STALE
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd in ("new-repo", "new-mod"):
        return _scaffold(args)
    try:
        return _gen(args) if args.cmd == "gen" else _check(args)
    except CodegenError as e:
        for err in e.errors:
            path, sep, rest = err.partition(": ")
            print(f"{path}: error: {rest}" if sep else f"error: {err}", file=sys.stderr)
        if args.cmd == "gen":
            print("chimaera-gen: no files written", file=sys.stderr)
        return EXIT_INVALID
