"""Scaffolding of ChiMod repos and modules (issue 4; DESIGN.md §6, seeds 002/004).

``new_repo(path, namespace)`` writes a module repo::

    <path>/chimaera_repo.yaml     namespace: <namespace>
    <path>/CMakeLists.txt         find_package(chimaera REQUIRED) + add_subdirectory per module
    <path>/.gitignore             the build folders (/build*/)

``new_mod(repo, mod)`` writes a module into an existing repo and adds its
``add_subdirectory(<mod>)`` line to the repo's CMakeLists.txt::

    <repo>/<mod>/chimaera_mod.yaml    methods, kExample declared with its fields (the task schema)
    <repo>/<mod>/CMakeLists.txt       chimaera_add_module(... PYTHON) + the test program
    <repo>/<mod>/include/<mod>/<mod>_client.h   class Client : public GeneratedClient
    <repo>/<mod>/src/<mod>_runtime.cc the handlers (Example) and the concurrency contract
    <repo>/<mod>/test/<mod>_test.cc   a client program: exit 0 = every check passed
    <repo>/<mod>/autogen/<mod>_methods.h, <mod>_lib_exec.h, <mod>_schema.h, <mod>_python.cc
                                      generated (the build regenerates them; these
                                      checked-in copies are for reading)

The seed's ``<mod>_tasks.h`` and ``src/<mod>_client.cc`` are what the schema
generates (``<mod>_schema.h``); the Python binding (``<mod>_python.cc``, the
extension ``<namespace>_<mod>``) is built into ``<build>/python`` when Python
3's headers and pybind11 are found.
The seed's ``<mod>/src/CMakeLists.txt`` is folded into ``<mod>/CMakeLists.txt``,
as in the modules Chimaera ships (chimaera_add_module needs the module
directory as its current source directory).

The files come from the Jinja2 templates in ``chimod_templates/{repo,module}``
(``chimod_templates`` next to ``generators/`` in the source tree, and
``share/chimaera/chimod_templates`` next to ``share/chimaera/generators``
when installed; ``$CHIMAERA_TEMPLATES_DIR`` overrides). Template paths may
contain ``{{mod}}`` / ``{{ns}}``; every ``*.j2`` file is rendered with ``ns``
and ``mod`` and written without the ``.j2`` suffix.

Nothing is ever overwritten: if any file to be written already exists the
call raises :class:`ScaffoldExists` (naming the path) before writing
anything. Invalid input raises :class:`ScaffoldError`.
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Dict, List, Optional

import jinja2

from .model import REPO_YAML, CodegenError, is_identifier, load_module, load_repo_namespace
from .render import render, write_outputs

# Names a repo namespace may not take: they are the namespaces of Chimaera itself.
RESERVED_NAMESPACES = frozenset({"chi", "hipc", "std", "chimaera"})
# Module names a runtime already knows: module names are global in a runtime
# (CreatePool names the module), so a repo module must not shadow these.
BUILTIN_MODULES = frozenset({"admin", "small_message"})

_MODULES_END_MARKER = "# ---- end of modules ----"
_ADD_SUBDIR = re.compile(r"^\s*add_subdirectory\s*\(\s*([^\s)]+)")


class ScaffoldError(Exception):
    """Invalid input for new_repo / new_mod (bad name, missing repo, ...)."""


class ScaffoldExists(ScaffoldError):
    """A file or directory new_repo / new_mod would create already exists."""

    def __init__(self, path: str):
        super().__init__(f"{path} already exists; refusing to overwrite it")
        self.path = path


def templates_dir() -> str:
    """Directory holding the repo/ and module/ templates."""
    env = os.environ.get("CHIMAERA_TEMPLATES_DIR")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    # generators/chimaera_codegen -> <src>/chimod_templates;
    # share/chimaera/generators/chimaera_codegen -> share/chimaera/chimod_templates
    return os.path.normpath(os.path.join(here, os.pardir, os.pardir, "chimod_templates"))


def check_name(kind: str, name: str) -> None:
    """Raise ScaffoldError unless `name` is a usable C++ identifier."""
    if not isinstance(name, str) or not name:
        raise ScaffoldError(f"{kind} name must not be empty")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ScaffoldError(f"{kind} name {name!r} is not a C++ identifier "
                            f"(letters, digits and '_', not starting with a digit)")
    if not is_identifier(name):
        raise ScaffoldError(f"{kind} name {name!r} is a C++ keyword or contains '__' "
                            f"(reserved identifiers)")
    if name.startswith("_"):
        raise ScaffoldError(f"{kind} name {name!r} starts with '_' (reserved at namespace scope)")


def _render_tree(kind: str, variables: Dict[str, str]) -> Dict[str, str]:
    """Relative output path -> content for every template under templates/<kind>."""
    root = os.path.join(templates_dir(), kind)
    if not os.path.isdir(root):
        raise ScaffoldError(f"no templates in {root} (set CHIMAERA_TEMPLATES_DIR to the "
                            f"chimod_templates directory)")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(root), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith(".j2"):
                continue
            rel_template = os.path.relpath(os.path.join(dirpath, name), root)
            rel_out = env.from_string(rel_template[:-len(".j2")]).render(**variables)
            text = env.get_template(rel_template.replace(os.sep, "/")).render(**variables)
            files[rel_out] = text
    return files


def _refuse_existing(base: str, rels) -> None:
    for rel in sorted(rels):
        path = os.path.join(base, rel)
        if os.path.lexists(path):
            raise ScaffoldExists(path)


def _write(base: str, files: Dict[str, str]) -> List[str]:
    written = []
    for rel, text in sorted(files.items()):
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite
            f.write(text)
        written.append(path)
    return written


def new_repo(path: str, namespace: str) -> List[str]:
    """Create a ChiMod repo at `path` (created if missing) with C++ namespace
    `namespace`. Returns the written paths. Raises ScaffoldError /
    ScaffoldExists (nothing written)."""
    check_name("namespace", namespace)
    if namespace in RESERVED_NAMESPACES:
        raise ScaffoldError(f"namespace {namespace!r} is reserved by Chimaera; choose another")
    path = os.fspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ScaffoldExists(path)
    files = _render_tree("repo", {"ns": namespace})
    _refuse_existing(path, files)
    return _write(path, files)


def _add_subdirectory(cmake_path: str, mod: str) -> bool:
    """Add `add_subdirectory(<mod>)` to the repo CMakeLists (before the end
    marker, else after the last add_subdirectory, else at the end). Returns
    False when the line was already there."""
    with open(cmake_path, encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    if any((m := _ADD_SUBDIR.match(line)) and m.group(1) == mod for line in lines):
        return False
    new = f"add_subdirectory({mod})\n"
    at = next((i for i, line in enumerate(lines) if line.strip() == _MODULES_END_MARKER), None)
    if at is None:
        subdirs = [i for i, line in enumerate(lines) if _ADD_SUBDIR.match(line)]
        at = subdirs[-1] + 1 if subdirs else len(lines)
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, new)
    tmp = cmake_path + ".chimaera-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp, cmake_path)
    return True


def new_mod(repo: str, mod: str) -> List[str]:
    """Create module `mod` in the ChiMod repo `repo`, generate its autogen/
    headers and add it to the repo's CMakeLists.txt. Returns the written
    paths. Raises ScaffoldError / ScaffoldExists (nothing written)."""
    check_name("module", mod)
    if mod in BUILTIN_MODULES:
        raise ScaffoldError(f"module name {mod!r} is taken by a module Chimaera ships; choose another")
    repo = os.fspath(repo)
    if not os.path.isdir(repo):
        raise ScaffoldError(f"{repo}: no such repo directory (create one with new-repo)")
    repo_yaml = os.path.join(repo, REPO_YAML)
    if not os.path.isfile(repo_yaml):
        raise ScaffoldError(f"{repo}: not a ChiMod repo (no {REPO_YAML}; create one with new-repo)")
    cmake_path = os.path.join(repo, "CMakeLists.txt")
    if not os.path.isfile(cmake_path):
        raise ScaffoldError(f"{repo}: no CMakeLists.txt to add the module to")
    try:
        namespace = load_repo_namespace(repo_yaml)
    except CodegenError as e:
        raise ScaffoldError("\n".join(e.errors)) from None
    if "::" in namespace:
        raise ScaffoldError(f"{repo_yaml}: namespace {namespace!r} is qualified; new-mod needs a "
                            f"single identifier (it names CMake targets)")

    mod_dir = os.path.join(repo, mod)
    if os.path.lexists(mod_dir):
        raise ScaffoldExists(mod_dir)
    files = _render_tree("module", {"ns": namespace, "mod": mod})
    written = _write(mod_dir, files)
    try:
        module = load_module(mod_dir, repo_yaml)
        written += write_outputs(render(module), os.path.join(mod_dir, "autogen"))
        if _add_subdirectory(cmake_path, mod):
            written.append(cmake_path)
    except CodegenError as e:
        shutil.rmtree(mod_dir, ignore_errors=True)  # all-or-nothing: the directory is ours
        raise ScaffoldError("the generator rejected the scaffolded module:\n" + "\n".join(e.errors)) from None
    except BaseException:
        shutil.rmtree(mod_dir, ignore_errors=True)
        raise
    return written
