"""Parse and validate chimaera_mod.yaml / chimaera_repo.yaml (DESIGN.md §6).

Every problem is reported as ``FILE:LINE: message`` (line numbers are 1-based,
taken from the YAML node marks), and all problems of a file are collected so a
module author sees them at once. Nothing here writes files.

chimaera_mod.yaml: a mapping of method name to id, in one of two forms::

    kCreate: 0                          # task type CreateTask (name without 'k' + "Task")
    kMd: {id: 10, task: MdTask}         # extension: explicit task type

Rules (seed 002 "chimaera_mod.yaml"):
  * inherited methods kCreate..kUpgrade have the fixed ids 0..5, or -1 for
    "not supported" (then they are left out of Method and the switches);
    an inherited method that is not listed is not supported either;
  * ids 6..9 are reserved; custom methods use ids >= 10 (and < 2^32);
  * names are 'k' followed by a C++ identifier starting with a letter (the
    rest is the Run function's name, e.g. kCreatePool -> CreatePool);
  * no duplicate names and no two supported methods with the same id.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, List, Optional, Tuple

import yaml

MOD_YAML = "chimaera_mod.yaml"
REPO_YAML = "chimaera_repo.yaml"

# Container methods every module inherits, with their fixed ids (seed 002).
INHERITED: Dict[str, int] = {
    "kCreate": 0,
    "kDestroy": 1,
    "kNodeFailure": 2,
    "kRecover": 3,
    "kMigrate": 4,
    "kUpgrade": 5,
}
FIRST_CUSTOM_ID = 10
MAX_ID = 2**32 - 1  # ids are chi::u32
UNSUPPORTED = -1

_METHOD_NAME = re.compile(r"k[A-Za-z][A-Za-z0-9_]*\Z")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DECIMAL = re.compile(r"[-+]?[0-9]+\Z")

_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"

# C++20 keywords and alternative tokens: not usable as identifiers.
CXX_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
nullptr operator or or_eq private protected public register reinterpret_cast requires return
short signed sizeof static static_assert static_cast struct switch template this thread_local
throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
xor xor_eq
""".split())


class CodegenError(Exception):
    """One or more input problems; each entry of ``errors`` is 'FILE:LINE: msg'."""

    def __init__(self, errors: List[str]):
        super().__init__("\n".join(errors))
        self.errors = list(errors)


@dataclasses.dataclass(frozen=True)
class Method:
    name: str       # "kCreatePool"
    id: int         # 10; -1 = not supported
    task: str       # "CreatePoolTask"
    inherited: bool
    line: int       # 1-based line in chimaera_mod.yaml

    @property
    def func(self) -> str:
        """Name of the Run function (and of Monitor<func>): 'CreatePool'."""
        return self.name[1:]

    @property
    def supported(self) -> bool:
        return self.id != UNSUPPORTED


@dataclasses.dataclass(frozen=True)
class Module:
    name: str              # module directory name, e.g. "admin"
    namespace: str         # repo namespace, e.g. "chimaera"
    methods: Tuple[Method, ...]  # in YAML order
    mod_yaml: str          # path of chimaera_mod.yaml
    repo_yaml: str         # path of chimaera_repo.yaml

    @property
    def cxx_namespace(self) -> str:
        return f"{self.namespace}::{self.name}"

    @property
    def supported(self) -> List[Method]:
        return [m for m in self.methods if m.supported]

    @property
    def unsupported_inherited(self) -> List[str]:
        """Inherited method names set to -1 or not listed, in id order."""
        have = {m.name for m in self.supported}
        return [n for n in INHERITED if n not in have]


def is_identifier(s: str) -> bool:
    return bool(_IDENT.match(s)) and s not in CXX_KEYWORDS and "__" not in s


def is_qualified_name(s: str) -> bool:
    """'a', 'a::b' (optionally a leading '::'), each part an identifier."""
    parts = s[2:].split("::") if s.startswith("::") else s.split("::")
    return all(is_identifier(p) for p in parts)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _compose(path: str) -> Optional[yaml.Node]:
    """Read and compose one YAML document (nodes keep their line numbers)."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise CodegenError([f"{path}:1: cannot read: {e.strerror}"]) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise CodegenError([f"{path}:{line}: malformed YAML: {what}"]) from None
    except yaml.YAMLError as e:
        raise CodegenError([f"{path}:1: malformed YAML: {e}"]) from None


def _parse_id(path: str, node: yaml.Node, errors: List[str]) -> Optional[int]:
    if (not isinstance(node, yaml.ScalarNode) or node.tag != _INT_TAG
            or not _DECIMAL.match(node.value)):
        shown = node.value if isinstance(node, yaml.ScalarNode) else f"a {node.id}"
        errors.append(f"{path}:{_line(node)}: method id must be a decimal integer, got {shown!r}")
        return None
    return int(node.value)


def _parse_value(path: str, name: str, node: yaml.Node,
                 errors: List[str]) -> Tuple[Optional[int], Optional[str]]:
    """Returns (id, task type or None for the default)."""
    if not isinstance(node, yaml.MappingNode):
        return _parse_id(path, node, errors), None
    mid, task, seen = None, None, set()
    for knode, vnode in node.value:
        key = knode.value if isinstance(knode, yaml.ScalarNode) else None
        if key in seen:
            errors.append(f"{path}:{_line(knode)}: duplicate key {key!r} in {name}")
            continue
        seen.add(key)
        if key == "id":
            mid = _parse_id(path, vnode, errors)
        elif key == "task":
            if (not isinstance(vnode, yaml.ScalarNode) or vnode.tag != _STR_TAG
                    or not is_qualified_name(vnode.value)):
                shown = vnode.value if isinstance(vnode, yaml.ScalarNode) else f"a {vnode.id}"
                errors.append(f"{path}:{_line(vnode)}: task of {name} must be a C++ type name, "
                              f"got {shown!r}")
            else:
                task = vnode.value
        else:
            errors.append(f"{path}:{_line(knode)}: unknown key {key!r} in {name} "
                          f"(allowed: id, task)")
    if "id" not in seen:
        errors.append(f"{path}:{_line(node)}: {name} needs an 'id'")
    return mid, task


def load_repo_namespace(repo_yaml: str) -> str:
    """The `namespace` of chimaera_repo.yaml, validated as a C++ namespace."""
    root = _compose(repo_yaml)
    if not isinstance(root, yaml.MappingNode):
        line = _line(root) if root is not None else 1
        raise CodegenError([f"{repo_yaml}:{line}: expected a mapping with a 'namespace' key"])
    errors: List[str] = []
    ns = None
    seen = set()
    for knode, vnode in root.value:
        key = knode.value if isinstance(knode, yaml.ScalarNode) else None
        if key in seen:
            errors.append(f"{repo_yaml}:{_line(knode)}: duplicate key {key!r}")
            continue
        seen.add(key)
        if key != "namespace":
            continue  # other repo metadata is allowed
        if (not isinstance(vnode, yaml.ScalarNode) or vnode.tag != _STR_TAG
                or vnode.value.startswith("::") or not is_qualified_name(vnode.value)):
            shown = vnode.value if isinstance(vnode, yaml.ScalarNode) else f"a {vnode.id}"
            errors.append(f"{repo_yaml}:{_line(vnode)}: namespace must be a C++ namespace "
                          f"name like 'example' or 'a::b', got {shown!r}")
        else:
            ns = vnode.value
    if "namespace" not in seen:
        errors.append(f"{repo_yaml}:{_line(root)}: missing 'namespace' key")
    if errors:
        raise CodegenError(errors)
    return ns


def find_repo_yaml(module_dir: str) -> str:
    """Strict layout (seed 002): <repo>/chimaera_repo.yaml, <repo>/<mod>/."""
    return os.path.join(os.path.dirname(os.path.abspath(module_dir)), REPO_YAML)


def load_module(module_dir: str, repo_yaml: Optional[str] = None) -> Module:
    """Parse and validate a module directory. Raises CodegenError."""
    module_dir = os.path.normpath(module_dir)
    name = os.path.basename(os.path.abspath(module_dir))
    mod_yaml = os.path.join(module_dir, MOD_YAML)
    repo_yaml = repo_yaml or find_repo_yaml(module_dir)

    errors: List[str] = []
    namespace = None
    if not os.path.isfile(repo_yaml):
        errors.append(f"{repo_yaml}:1: no {REPO_YAML} (expected in the repo directory above "
                      f"the module; pass --repo-yaml)")
    else:
        try:
            namespace = load_repo_namespace(repo_yaml)
        except CodegenError as e:
            errors.extend(e.errors)
    if not is_identifier(name):
        errors.append(f"{mod_yaml}:1: module directory name {name!r} is not a C++ identifier")

    methods: List[Method] = []
    try:
        root = _compose(mod_yaml)
    except CodegenError as e:
        raise CodegenError(errors + e.errors) from None
    if root is None:
        errors.append(f"{mod_yaml}:1: empty file: expected a mapping of method names to ids")
    elif not isinstance(root, yaml.MappingNode):
        errors.append(f"{mod_yaml}:{_line(root)}: expected a mapping of method names to ids")
    else:
        names: Dict[str, int] = {}
        ids: Dict[int, Tuple[str, int]] = {}
        for knode, vnode in root.value:
            line = _line(knode)
            if not isinstance(knode, yaml.ScalarNode):
                errors.append(f"{mod_yaml}:{line}: method name must be a plain string")
                continue
            mname = knode.value
            if mname in names:
                errors.append(f"{mod_yaml}:{line}: duplicate method {mname!r} "
                              f"(first defined on line {names[mname]})")
                continue
            names[mname] = line
            if not _METHOD_NAME.match(mname) or not is_identifier(mname):
                errors.append(f"{mod_yaml}:{line}: method name {mname!r} must be 'k' followed by "
                              f"a C++ identifier starting with a letter (e.g. kCompress)")
                continue
            mid, task = _parse_value(mod_yaml, mname, vnode, errors)
            if mid is None:
                continue
            vline = _line(vnode)
            inherited = mname in INHERITED
            if inherited:
                fixed = INHERITED[mname]
                if mid not in (fixed, UNSUPPORTED):
                    errors.append(f"{mod_yaml}:{vline}: inherited method {mname} has id {fixed} "
                                  f"(or -1 if not supported), got {mid}")
                    continue
            elif 0 <= mid < len(INHERITED):
                inh = next(k for k, v in INHERITED.items() if v == mid)
                errors.append(f"{mod_yaml}:{vline}: id {mid} of {mname} is reserved for the "
                              f"inherited method {inh}; custom methods start at {FIRST_CUSTOM_ID}")
                continue
            elif len(INHERITED) <= mid < FIRST_CUSTOM_ID:
                errors.append(f"{mod_yaml}:{vline}: ids {len(INHERITED)}-{FIRST_CUSTOM_ID - 1} are "
                              f"reserved; custom method {mname} must use an id >= {FIRST_CUSTOM_ID}")
                continue
            elif mid < FIRST_CUSTOM_ID:
                errors.append(f"{mod_yaml}:{vline}: custom method {mname} must use an id >= "
                              f"{FIRST_CUSTOM_ID} (-1 is only for inherited methods), got {mid}")
                continue
            elif mid > MAX_ID:
                errors.append(f"{mod_yaml}:{vline}: id {mid} of {mname} does not fit in chi::u32")
                continue
            if mid != UNSUPPORTED:
                if mid in ids:
                    other, oline = ids[mid]
                    errors.append(f"{mod_yaml}:{vline}: duplicate id {mid}: {mname} and {other} "
                                  f"(line {oline})")
                    continue
                ids[mid] = (mname, vline)
            methods.append(Method(name=mname, id=mid, task=task or f"{mname[1:]}Task",
                                  inherited=inherited, line=line))
        if not errors and not any(m.supported for m in methods):
            errors.append(f"{mod_yaml}:{_line(root)}: the module supports no method")
    if errors:
        raise CodegenError(errors)
    return Module(name=name, namespace=namespace, methods=tuple(methods),
                  mod_yaml=mod_yaml, repo_yaml=repo_yaml)
