"""Command line: ``chimaera-gen {gen,check} MODULE_DIR``.

Exit codes: 0 success / up to date; 1 ``check`` found stale or missing
headers; 2 invalid input (each problem printed as FILE:LINE: error: ...,
nothing written) or bad usage.
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys
from typing import List, Optional

from .model import CodegenError, load_module
from .render import render, write_outputs

EXIT_OK, EXIT_STALE, EXIT_INVALID = 0, 1, 2

DESCRIPTION = """\
Generate a ChiMod's autogen headers (<mod>_methods.h, <mod>_lib_exec.h) from
MODULE_DIR/chimaera_mod.yaml and the repo's chimaera_repo.yaml (DESIGN.md §6).

chimaera_mod.yaml maps method names to ids:
  kCreate: 0 .. kUpgrade: 5     inherited methods (-1 = not supported)
  kCompress: 10                 custom methods, ids >= 10; task type CompressTask
  kMd: {id: 10, task: MdTask}   custom method with an explicit task type
"""

EPILOG = """\
exit status: 0 ok, 1 'check' found stale headers, 2 invalid input or usage.
examples:
  chimaera-gen gen cpp/chimods/admin                 # writes cpp/chimods/admin/autogen/
  chimaera-gen gen cpp/chimods/admin --out build/x   # writes build/x/
  chimaera-gen check cpp/chimods/admin               # CI: fail when autogen/ is stale
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chimaera-gen", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", metavar="{gen,check}")
    sub.required = True

    def common(sp):
        sp.add_argument("module_dir", metavar="MODULE_DIR",
                        help="module directory holding chimaera_mod.yaml")
        sp.add_argument("--repo-yaml", metavar="PATH",
                        help="the repo's chimaera_repo.yaml (default: MODULE_DIR/../chimaera_repo.yaml)")
        sp.add_argument("--expect-namespace", metavar="NS",
                        help="fail unless the repo namespace is NS (used by CMake to catch a "
                             "NAMESPACE argument that disagrees with chimaera_repo.yaml)")

    g = sub.add_parser("gen", help="write the headers (only those whose content changed)",
                       description="Write <mod>_methods.h and <mod>_lib_exec.h. Files whose "
                                   "content is unchanged are not rewritten.")
    common(g)
    g.add_argument("--out", metavar="DIR", help="output directory (default: MODULE_DIR/autogen)")
    g.add_argument("-q", "--quiet", action="store_true", help="do not list written files")

    c = sub.add_parser("check", help="exit 1 (with a diff) if MODULE_DIR/autogen is stale",
                       description="Compare MODULE_DIR/autogen with what 'gen' would write; "
                                   "exit 1 and print a unified diff when they differ.")
    common(c)
    return p


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
        print(f"chimaera-gen: {out_dir} is stale; run: generators/chimaera-gen gen {args.module_dir}",
              file=sys.stderr)
        return EXIT_STALE
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _gen(args) if args.cmd == "gen" else _check(args)
    except CodegenError as e:
        for err in e.errors:
            path, sep, rest = err.partition(": ")
            print(f"{path}: error: {rest}" if sep else f"error: {err}", file=sys.stderr)
        if args.cmd == "gen":
            print("chimaera-gen: no files written", file=sys.stderr)
        return EXIT_INVALID
