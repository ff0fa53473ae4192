"""Parse and validate chimaera_mod.yaml / chimaera_repo.yaml (DESIGN.md §6).

Every problem is reported as ``FILE:LINE: message`` (line numbers are 1-based,
taken from the YAML node marks), and all problems of a file are collected so a
module author sees them at once. Nothing here writes files.

chimaera_mod.yaml: a mapping of method name to id, in one of three forms::

    kCreate: 0                          # task type CreateTask (name without 'k' + "Task")
    kMd: {id: 10, task: MdTask}         # extension: explicit task type
    kGet: {id: 11, in: {key: string}, out: {value: bytes, found: bool}}
                                        # schema: the task GetTask, its client
                                        # calls and Python binding are generated

Schema field types: i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 bool string bytes
pool_id, and list[T] of a number or bool type. ``bytes`` is a bulk buffer
(CHI_WRITE in, CHI_EXPOSE out); an out or inout ``bytes`` gets a buffer of
the client's choice, 64 KiB unless the field says ``bytes(1m)``.

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
import keyword
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


# Schema field types -> C++ member type (scalars) or kind.
SCALAR_TYPES: Dict[str, str] = {
    "i8": "std::int8_t", "i16": "std::int16_t", "i32": "std::int32_t", "i64": "std::int64_t",
    "u8": "std::uint8_t", "u16": "std::uint16_t", "u32": "std::uint32_t", "u64": "std::uint64_t",
    "f32": "float", "f64": "double", "bool": "bool", "pool_id": "chi::PoolId",
}
LIST_ELEMENT_TYPES = {k: v for k, v in SCALAR_TYPES.items() if k != "pool_id"}
DIRECTIONS = ("in", "out", "inout")
DEFAULT_BYTES_CAPACITY = 64 << 10
_LIST_TYPE = re.compile(r"list\[\s*([a-z0-9_]+)\s*\]\Z")
_BYTES_CAP = re.compile(r"bytes\(\s*([0-9]+)\s*([kKmMgG]?)\s*\)\Z")
# Members of chi::Task: a field of that name would shadow them.
RESERVED_FIELDS = frozenset("pool method prio dom_query task_flags completion waiter_worker return_code "
                            "type_id task_node error".split())
# Field names the Python binding's methods use themselves (self, the node=
# keyword) or that Python reserves.
RESERVED_PY_FIELDS = frozenset(["self", "node"])
# Attributes of chimaera.Pool: a method of that Python name would hide them.
RESERVED_PY_METHODS = frozenset("client id name module destroy".split())
# The optional module-level key choosing the generated clients' default
# DomainQuery (the other keys are methods).
DEFAULT_QUERY_KEY = "default_query"
DEFAULT_QUERIES = ("dynamic", "local")

# Method names whose function (the name without 'k') would shadow a member of
# chi::Container, or of what the generated lib_exec.h adds to the class.
RESERVED_METHODS = frozenset("kRun kMonitor kDel kSaveIn kLoadIn kSaveOut kLoadOut kNewCopy kInit "
                             "kCreateLocalQueue kGetLane kGetLaneByHash kAllLanes kFreeQueues kFindLane "
                             "kWrongTaskType kLoadTaskIn".split())


@dataclasses.dataclass(frozen=True)
class Field:
    """One parameter of a schema method."""
    name: str           # "value"
    type: str           # "bytes", "u64", "list[u32]", "string"
    direction: str      # "in", "out", "inout"
    line: int
    capacity: int = 0   # bytes out/inout: default buffer size in bytes

    @property
    def kind(self) -> str:
        """'scalar', 'string', 'bytes' or 'list'."""
        if self.type in SCALAR_TYPES:
            return "scalar"
        return "list" if self.type.startswith("list") else self.type

    @property
    def element(self) -> str:
        """list[T]: T's C++ type."""
        return LIST_ELEMENT_TYPES[_LIST_TYPE.match(self.type).group(1)]

    @property
    def cxx(self) -> str:
        """C++ type of the member (bytes: the Pointer; sizes are separate)."""
        k = self.kind
        if k == "scalar":
            return SCALAR_TYPES[self.type]
        return {"string": "chi::ipc::string", "bytes": "chi::ipc::Pointer",
                "list": f"chi::ipc::vector<{self.element if k == 'list' else ''}>"}[k]

    @property
    def is_input(self) -> bool:
        return self.direction in ("in", "inout")

    @property
    def is_output(self) -> bool:
        return self.direction in ("out", "inout")


@dataclasses.dataclass(frozen=True)
class Method:
    name: str       # "kCreatePool"
    id: int         # 10; -1 = not supported
    task: str       # "CreatePoolTask"
    inherited: bool
    line: int       # 1-based line in chimaera_mod.yaml
    schema: bool = False               # the task is generated from `fields`
    fields: Tuple[Field, ...] = ()

    @property
    def inputs(self) -> List[Field]:
        return [f for f in self.fields if f.is_input]

    @property
    def outputs(self) -> List[Field]:
        return [f for f in self.fields if f.is_output]

    @property
    def func(self) -> str:
        """Name of the Run function (and of Monitor<func>): 'CreatePool'."""
        return self.name[1:]

    @property
    def supported(self) -> bool:
        return self.id != UNSUPPORTED

    @property
    def py_name(self) -> str:
        """Name of the Python method: 'CreatePool' -> 'create_pool'."""
        return snake_case(self.func)


@dataclasses.dataclass(frozen=True)
class Module:
    name: str              # module directory name, e.g. "admin"
    namespace: str         # repo namespace, e.g. "chimaera"
    methods: Tuple[Method, ...]  # in YAML order
    mod_yaml: str          # path of chimaera_mod.yaml
    repo_yaml: str         # path of chimaera_repo.yaml
    default_query: str = "dynamic"  # the generated clients' DomainQuery: "dynamic" or "local"

    @property
    def local_default(self) -> bool:
        """True when the clients' default is this node's container, lane 0
        (tasks in submission order), not Dynamic (placed by the pool)."""
        return self.default_query == "local"

    @property
    def cxx_namespace(self) -> str:
        return f"{self.namespace}::{self.name}"

    @property
    def supported(self) -> List[Method]:
        return [m for m in self.methods if m.supported]

    @property
    def py_module(self) -> str:
        """Name of the Python extension: 'chimaera_test_kvstore' (namespace
        parts and module joined by '_')."""
        return "_".join(self.namespace.split("::") + [self.name])

    @property
    def py_class(self) -> str:
        """Python pool class: 'my_mod' -> 'MyModPool'."""
        return "".join(p[:1].upper() + p[1:] for p in self.name.split("_") if p) + "Pool"

    @property
    def schema_methods(self) -> List[Method]:
        return [m for m in self.supported if m.schema]

    @property
    def unsupported_inherited(self) -> List[str]:
        """Inherited method names set to -1 or not listed, in id order."""
        have = {m.name for m in self.supported}
        return [n for n in INHERITED if n not in have]


def snake_case(name: str) -> str:
    """'CreatePool' -> 'create_pool', 'GetHTTPStatus' -> 'get_http_status'."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


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
    digits = node.value.lstrip("+-")
    if len(digits) > 1 and digits.startswith("0"):
        # YAML 1.1 reads 010 as octal 8: refuse rather than guess.
        errors.append(f"{path}:{_line(node)}: method id {node.value!r} has a leading zero (YAML would read it "
                      f"as octal); write it without")
        return None
    return int(node.value)


def _parse_fields(path: str, method: str, direction: str, node: yaml.Node, seen: Dict[str, int],
                  errors: List[str]) -> List[Field]:
    """The `in:` / `out:` / `inout:` map of a schema method."""
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return []  # `in:` with nothing: no fields
    if not isinstance(node, yaml.MappingNode):
        errors.append(f"{path}:{_line(node)}: '{direction}' of {method} must be a map of field: type")
        return []
    out: List[Field] = []
    for knode, vnode in node.value:
        line = _line(knode)
        name = knode.value if isinstance(knode, yaml.ScalarNode) else None
        if name is None or not is_identifier(name) or name.endswith("_"):
            errors.append(f"{path}:{line}: field name {name!r} of {method} must be a C++ identifier "
                          f"(not ending in '_')")
            continue
        if name in RESERVED_PY_FIELDS or keyword.iskeyword(name):
            errors.append(f"{path}:{line}: field '{name}' of {method} cannot be a parameter of the Python "
                          f"binding ('{name}' is {'a Python keyword' if keyword.iskeyword(name) else 'taken'})")
            continue
        if name in RESERVED_FIELDS:
            errors.append(f"{path}:{line}: field '{name}' of {method} is reserved (chi::Task has a member "
                          f"'{name}_')")
            continue
        if name in seen:
            errors.append(f"{path}:{line}: duplicate field '{name}' in {method} (first on line {seen[name]})")
            continue
        seen[name] = line
        t = vnode.value if isinstance(vnode, yaml.ScalarNode) and vnode.tag == _STR_TAG else None
        shown = vnode.value if isinstance(vnode, yaml.ScalarNode) else f"a {vnode.id}"
        cap = 0
        if t is not None and _BYTES_CAP.match(t):
            m = _BYTES_CAP.match(t)
            cap = int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]
            if direction == "in":
                errors.append(f"{path}:{_line(vnode)}: field '{name}' of {method}: a size in bytes(...) is for "
                              f"out and inout buffers; an in buffer is as big as the caller's data")
                continue
            if cap == 0:
                errors.append(f"{path}:{_line(vnode)}: field '{name}' of {method}: bytes(0) is an empty buffer")
                continue
            t = "bytes"
        elif t == "bytes" and direction != "in":
            cap = DEFAULT_BYTES_CAPACITY
        if t is None or not (t in SCALAR_TYPES or t in ("string", "bytes") or
                             (_LIST_TYPE.match(t) and _LIST_TYPE.match(t).group(1) in LIST_ELEMENT_TYPES)):
            errors.append(f"{path}:{_line(vnode)}: field '{name}' of {method} has unknown type {shown!r} "
                          f"(types: {', '.join(SCALAR_TYPES)}, string, bytes, bytes(SIZE), list[T] of a "
                          f"number or bool type)")
            continue
        out.append(Field(name=name, type=t, direction=direction, line=line, capacity=cap))
    return out


def _parse_value(path: str, name: str, node: yaml.Node,
                 errors: List[str]) -> Tuple[Optional[int], Optional[str], Optional[List[Field]]]:
    """Returns (id, task type or None for the default, schema fields or None)."""
    if not isinstance(node, yaml.MappingNode):
        return _parse_id(path, node, errors), None, None
    mid, task, seen = None, None, set()
    fields: Optional[List[Field]] = None
    field_names: Dict[str, int] = {}
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
        elif key in DIRECTIONS:
            fields = (fields or []) + _parse_fields(path, name, key, vnode, field_names, errors)
        else:
            errors.append(f"{path}:{_line(knode)}: unknown key {key!r} in {name} "
                          f"(allowed: id, task, in, out, inout)")
    if "id" not in seen:
        errors.append(f"{path}:{_line(node)}: {name} needs an 'id'")
    if fields is not None and "task" in seen:
        errors.append(f"{path}:{_line(node)}: {name} has both 'task' (a hand-written task type) and fields "
                      f"(a generated one): keep one")
    return mid, task, fields


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
    default_query = "dynamic"
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
            if mname == DEFAULT_QUERY_KEY:
                if mname in names:
                    errors.append(f"{mod_yaml}:{line}: duplicate key {mname!r} (first on line {names[mname]})")
                elif not isinstance(vnode, yaml.ScalarNode) or vnode.value not in DEFAULT_QUERIES:
                    errors.append(f"{mod_yaml}:{_line(vnode)}: {mname} must be one of "
                                  f"{', '.join(DEFAULT_QUERIES)} (dynamic: the pool places each task; local: "
                                  f"this node's container, one lane, tasks in submission order)")
                else:
                    default_query = vnode.value
                names.setdefault(mname, line)
                continue
            if mname in names:
                errors.append(f"{mod_yaml}:{line}: duplicate method {mname!r} "
                              f"(first defined on line {names[mname]})")
                continue
            names[mname] = line
            if not _METHOD_NAME.match(mname) or not is_identifier(mname):
                errors.append(f"{mod_yaml}:{line}: method name {mname!r} must be 'k' followed by "
                              f"a C++ identifier starting with a letter (e.g. kCompress)")
                continue
            if mname in RESERVED_METHODS or mname.startswith("kChi") or mname.startswith("kMonitor"):
                errors.append(f"{mod_yaml}:{line}: method name {mname!r} is reserved: its function "
                              f"{mname[1:]}() would shadow a member of chi::Container or of the generated "
                              f"dispatch (e.g. call it kErase instead of kDel)")
                continue
            mid, task, fields = _parse_value(mod_yaml, mname, vnode, errors)
            py_name = snake_case(mname[1:])
            if fields is not None and (py_name in RESERVED_PY_METHODS or keyword.iskeyword(py_name)
                                       or py_name.endswith("_async")):
                errors.append(f"{mod_yaml}:{line}: method {mname} would be the Python method '{py_name}', which "
                              f"{'is a Python keyword' if keyword.iskeyword(py_name) else 'chimaera.Pool already has or the binding uses'}: "
                              f"rename it")
                continue
            if fields is not None and mname in INHERITED:
                errors.append(f"{mod_yaml}:{line}: inherited method {mname} takes the admin's task; it has no "
                              f"fields")
                continue
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
                                  inherited=inherited, line=line, schema=fields is not None,
                                  fields=tuple(fields or ())))
        py_names: Dict[str, Method] = {}
        for m in methods:
            if m.schema and m.supported:
                other = py_names.setdefault(m.py_name, m)
                if other is not m:
                    errors.append(f"{mod_yaml}:{m.line}: methods {other.name} (line {other.line}) and {m.name} would "
                                  f"both be the Python method '{m.py_name}': rename one")
        if not errors and not any(m.supported for m in methods):
            errors.append(f"{mod_yaml}:{_line(root)}: the module supports no method")
    if errors:
        raise CodegenError(errors)
    return Module(name=name, namespace=namespace, methods=tuple(methods),
                  mod_yaml=mod_yaml, repo_yaml=repo_yaml, default_query=default_query)
