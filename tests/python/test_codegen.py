"""Tests of the ChiMod code generator (generators/chimaera_codegen, DESIGN.md §6).

Run: /usr/bin/python3 -m pytest tests/python/test_codegen.py
(needs python3-jinja2 and python3-yaml; the generator runs in a subprocess
through the same interpreter, as the build runs it).

  * golden files: tests/generators/golden/<case>/<mod>/chimaera_mod.yaml with
    the expected headers in <mod>/autogen/ (regenerate after an intended
    template change with: generators/chimaera-gen gen <case>/<mod>);
  * every validation error: exit 2, FILE:LINE in the message, nothing written;
  * unchanged outputs keep their mtime; `check` detects stale headers;
  * the modules the project ships have up-to-date checked-in headers.
"""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATORS = os.path.join(ROOT, "generators")
GOLDEN = os.path.join(ROOT, "tests", "generators", "golden")
WRAPPER = os.path.join(GENERATORS, "chimaera-gen")

GOLDEN_CASES = [("seed_example", "mod_name"), ("task_override", "blobs"), ("minimal", "tiny"),
                ("schema", "allfields")]
SHIPPED = ["cpp/chimods/admin", "cpp/chimods/small_message", "cpp/chimods/compressor", "cpp/chimods/bdev",
           "cpp/chimods/remote_queue", "tests/integration/worktest", "tests/integration/kvstore"]
GENERATED = ["{mod}_lib_exec.h", "{mod}_methods.h", "{mod}_python.cc", "{mod}_schema.h"]


def run_gen(*args, cwd=None):
    """Runs `python -m chimaera_codegen ARGS` as the build does."""
    env = dict(os.environ, PYTHONPATH=GENERATORS)
    return subprocess.run([sys.executable, "-m", "chimaera_codegen", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def make_repo(tmp_path, mod_yaml, repo_yaml="namespace: example\n", mod="mymod"):
    """tmp_path/repo/{chimaera_repo.yaml, <mod>/chimaera_mod.yaml}; returns the module dir."""
    repo = tmp_path / "repo"
    (repo / mod).mkdir(parents=True)
    if repo_yaml is not None:
        (repo / "chimaera_repo.yaml").write_text(repo_yaml)
    (repo / mod / "chimaera_mod.yaml").write_text(textwrap.dedent(mod_yaml))
    return repo / mod


INHERITED_OK = """\
kCreate: 0
kDestroy: 1
kNodeFailure: -1
kRecover: -1
kMigrate: -1
kUpgrade: -1
"""


# ---------------------------------------------------------------- golden files
@pytest.mark.parametrize("case,mod", GOLDEN_CASES)
def test_golden(tmp_path, case, mod):
    mod_dir = os.path.join(GOLDEN, case, mod)
    out = tmp_path / "out"
    r = run_gen("gen", mod_dir, "--out", str(out))
    assert r.returncode == 0, r.stderr
    expected_dir = os.path.join(mod_dir, "autogen")
    names = sorted(os.listdir(out))
    assert names == [n.format(mod=mod) for n in GENERATED]
    assert sorted(os.listdir(expected_dir)) == names
    for name in names:
        assert read(out / name) == read(os.path.join(expected_dir, name)), name


def test_golden_check_passes():
    for case, mod in GOLDEN_CASES:
        r = run_gen("check", os.path.join(GOLDEN, case, mod))
        assert r.returncode == 0, r.stdout + r.stderr


def test_generated_shape(tmp_path):
    """Spot checks of the contract the C++ side relies on (seed 002)."""
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kCompress: 10\nkPack: {id: 12, task: PackTask2}\n")
    assert run_gen("gen", str(mod_dir)).returncode == 0
    methods = read(mod_dir / "autogen" / "mymod_methods.h")
    lib = read(mod_dir / "autogen" / "mymod_lib_exec.h")
    assert "namespace example::mymod {" in methods
    assert "static constexpr chi::u32 kCompress = 10;" in methods
    assert "kNodeFailure =" not in methods  # -1: not supported, not declared
    # Every case checks the task's type before it casts (DESIGN.md §5).
    assert ("case Method::kCompress:\n      if (!chi::IsTaskOfType<CompressTask>(task.ptr_)) "
            "{ WrongTaskType(task, method, \"CompressTask\"); return; }\n"
            "      ChiRunCompress(*this, task, rctx); return;") in lib
    assert "self.Compress(chi::ipc::FullPtr<CompressTask>(task), rctx);" in lib
    assert "ChiRunCreate(*this, task, rctx); return;" in lib
    # A missing handler is one static_assert naming the YAML line and the signature.
    assert ('static_assert(kChiHasCompress<ChiSelf>,\n                "mymod/chimaera_mod.yaml:7: method kCompress '
            'needs its handler: write "\n                "`void Compress(chi::ipc::FullPtr<CompressTask> task, '
            'chi::RunContext &rctx)`') in lib
    assert 'static constexpr const char *kChiRepoNamespace = "example";' in lib
    assert "MonitorPack(mode, chi::ipc::FullPtr<PackTask2>(task), rctx)" in lib
    assert "DelTask(chi::ipc::FullPtr<PackTask2>(task))" in lib
    assert "kTaskUnsupportedMethod" in lib
    assert "NodeFailure(" not in lib
    # Serialization dispatch (seeds 000/001); NewCopy is the base class's.
    assert "ar.SaveTaskIn(*chi::ipc::FullPtr<PackTask2>(task))" in lib
    assert "case Method::kPack: return LoadTaskIn<PackTask2>(ar);" in lib
    assert "ar.SaveTaskOut(*chi::ipc::FullPtr<PackTask2>(task))" in lib
    assert "ar.LoadTaskOut(*chi::ipc::FullPtr<PackTask2>(task))" in lib
    assert "NewCopy" not in lib


def test_wrapper_script(tmp_path):
    mod_dir = os.path.join(GOLDEN, "seed_example", "mod_name")
    r = subprocess.run([WRAPPER, "gen", mod_dir, "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "mod_name_methods.h") == read(os.path.join(mod_dir, "autogen",
                                                                      "mod_name_methods.h"))


# ----------------------------------------------------------- validation errors
# (name, chimaera_mod.yaml, chimaera_repo.yaml or None for "missing", file that
#  the message must name, line, substring of the message)
MOD = "chimaera_mod.yaml"
REPO = "chimaera_repo.yaml"
ERROR_CASES = [
    ("malformed_yaml", INHERITED_OK + "kA: [10\nkB: 11\n", "namespace: ex\n", MOD, 8, "malformed YAML"),
    ("malformed_tab", "kCreate: 0\n\tkA: 10\n", "namespace: ex\n", MOD, 2, "malformed YAML"),
    ("not_a_mapping", "- kCreate\n- kA\n", "namespace: ex\n", MOD, 1, "expected a mapping"),
    ("empty_file", "# nothing\n", "namespace: ex\n", MOD, 1, "empty"),
    ("duplicate_id", INHERITED_OK + "kA: 10\nkB: 10\n", "namespace: ex\n", MOD, 8, "duplicate id 10"),
    ("duplicate_id_inherited_form", INHERITED_OK + "kA: 10\nkB: {id: 10}\n", "namespace: ex\n", MOD, 8,
     "duplicate id 10"),
    ("duplicate_key", INHERITED_OK + "kA: 10\nkB: 11\nkA: 12\n", "namespace: ex\n", MOD, 9,
     "duplicate method 'kA'"),
    ("custom_id_reserved_6_9", INHERITED_OK + "kA: 7\n", "namespace: ex\n", MOD, 7, "reserved"),
    ("custom_id_inherited_range", INHERITED_OK + "kA: 3\n", "namespace: ex\n", MOD, 7,
     "reserved for the inherited method kRecover"),
    ("custom_id_minus_one", INHERITED_OK + "kA: -1\n", "namespace: ex\n", MOD, 7, "id >= 10"),
    ("custom_id_negative", INHERITED_OK + "kA: -5\n", "namespace: ex\n", MOD, 7, "id >= 10"),
    ("custom_id_too_big", INHERITED_OK + "kA: 4294967296\n", "namespace: ex\n", MOD, 7, "chi::u32"),
    ("inherited_wrong_id", "kCreate: 0\nkDestroy: 11\n", "namespace: ex\n", MOD, 2,
     "inherited method kDestroy has id 1"),
    ("inherited_id_collides", "kCreate: 1\n", "namespace: ex\n", MOD, 1, "inherited method kCreate has id 0"),
    ("name_without_k", INHERITED_OK + "Compress: 10\n", "namespace: ex\n", MOD, 7, "must be 'k'"),
    ("name_not_identifier", INHERITED_OK + "kCom-press: 10\n", "namespace: ex\n", MOD, 7, "C++ identifier"),
    ("name_digit_after_k", INHERITED_OK + "k1: 10\n", "namespace: ex\n", MOD, 7, "C++ identifier"),
    ("name_only_k", INHERITED_OK + "k: 10\n", "namespace: ex\n", MOD, 7, "C++ identifier"),
    ("name_reserved_identifier", INHERITED_OK + "kA__b: 10\n", "namespace: ex\n", MOD, 7, "C++ identifier"),
    ("name_not_string", INHERITED_OK + "[a]: 10\n", "namespace: ex\n", MOD, 7, "plain string"),
    ("id_word", INHERITED_OK + "kA: ten\n", "namespace: ex\n", MOD, 7, "decimal integer"),
    ("id_float", INHERITED_OK + "kA: 10.5\n", "namespace: ex\n", MOD, 7, "decimal integer"),
    ("id_quoted", INHERITED_OK + 'kA: "10"\n', "namespace: ex\n", MOD, 7, "decimal integer"),
    ("id_bool", INHERITED_OK + "kA: true\n", "namespace: ex\n", MOD, 7, "decimal integer"),
    ("id_hex", INHERITED_OK + "kA: 0x10\n", "namespace: ex\n", MOD, 7, "decimal integer"),
    ("id_null", INHERITED_OK + "kA:\n", "namespace: ex\n", MOD, 7, "decimal integer"),
    ("id_list", INHERITED_OK + "kA: [10]\n", "namespace: ex\n", MOD, 7, "decimal integer"),
    ("map_missing_id", INHERITED_OK + "kA: {task: ATask}\n", "namespace: ex\n", MOD, 7, "needs an 'id'"),
    ("map_unknown_key", INHERITED_OK + "kA:\n  id: 10\n  tsak: ATask\n", "namespace: ex\n", MOD, 9,
     "unknown key 'tsak'"),
    ("map_bad_task", INHERITED_OK + "kA:\n  id: 10\n  task: A Task\n", "namespace: ex\n", MOD, 9,
     "C++ type name"),
    ("map_bad_id", INHERITED_OK + "kA:\n  id: x\n", "namespace: ex\n", MOD, 8, "decimal integer"),
    ("map_duplicate_key", INHERITED_OK + "kA:\n  id: 10\n  id: 11\n", "namespace: ex\n", MOD, 9,
     "duplicate key 'id'"),
    ("no_supported_method", "kCreate: -1\n", "namespace: ex\n", MOD, 1, "supports no method"),
    ("id_leading_zero", INHERITED_OK + "kA: 010\n", "namespace: ex\n", MOD, 7, "leading zero"),
    ("map_id_leading_zero", INHERITED_OK + "kA: {id: 012, in: {x: u8}}\n", "namespace: ex\n", MOD, 7,
     "leading zero"),
    ("map_id_string", INHERITED_OK + "kA: {id: '10', in: {x: u8}}\n", "namespace: ex\n", MOD, 7,
     "decimal integer"),
    # Task schema (issue 14).
    ("schema_unknown_type", INHERITED_OK + "kA: {id: 10, in: {x: int}}\n", "namespace: ex\n", MOD, 7,
     "unknown type 'int'"),
    ("schema_unknown_list_type", INHERITED_OK + "kA:\n  id: 10\n  out:\n    xs: list[string]\n",
     "namespace: ex\n", MOD, 10, "unknown type 'list[string]'"),
    ("schema_duplicate_field", INHERITED_OK + "kA:\n  id: 10\n  in: {x: u8}\n  out: {x: u8}\n",
     "namespace: ex\n", MOD, 10, "duplicate field 'x' in kA (first on line 9)"),
    ("schema_reserved_method_del", INHERITED_OK + "kDel: {id: 10, in: {key: string}}\n", "namespace: ex\n", MOD,
     7, "'kDel' is reserved"),
    ("schema_reserved_method_run", INHERITED_OK + "kRun: 10\n", "namespace: ex\n", MOD, 7, "'kRun' is reserved"),
    ("schema_reserved_method_prefix", INHERITED_OK + "kMonitorX: 10\n", "namespace: ex\n", MOD, 7, "reserved"),
    ("schema_reserved_field", INHERITED_OK + "kA: {id: 10, in: {pool: u64}}\n", "namespace: ex\n", MOD, 7,
     "field 'pool' of kA is reserved"),
    ("schema_python_keyword_field", INHERITED_OK + "kA: {id: 10, in: {lambda: u64}}\n", "namespace: ex\n", MOD, 7,
     "Python keyword"),
    ("schema_node_field", INHERITED_OK + "kA: {id: 10, in: {node: u64}}\n", "namespace: ex\n", MOD, 7,
     "'node' is taken"),
    ("schema_python_method_clash", INHERITED_OK + "kDestroyAll: 10\nkId: {id: 11, out: {x: u8}}\n",
     "namespace: ex\n", MOD, 8, "Python method 'id'"),
    ("schema_python_names_collide", INHERITED_OK + "kGetX: {id: 10, in: {}}\nkGet_X: {id: 11, in: {}}\n",
     "namespace: ex\n", MOD, 8, "both be the Python method 'get_x'"),
    ("schema_field_name", INHERITED_OK + "kA: {id: 10, in: {x_: u8}}\n", "namespace: ex\n", MOD, 7,
     "C++ identifier"),
    ("schema_fields_not_map", INHERITED_OK + "kA: {id: 10, in: [x]}\n", "namespace: ex\n", MOD, 7,
     "must be a map of field: type"),
    ("schema_bytes_size_on_in", INHERITED_OK + "kA: {id: 10, in: {d: bytes(4k)}}\n", "namespace: ex\n", MOD, 7,
     "for out and inout buffers"),
    ("schema_bytes_zero", INHERITED_OK + "kA: {id: 10, out: {d: bytes(0)}}\n", "namespace: ex\n", MOD, 7,
     "bytes(0)"),
    ("schema_task_and_fields", INHERITED_OK + "kA: {id: 10, task: ATask, in: {x: u8}}\n", "namespace: ex\n", MOD,
     7, "keep one"),
    ("schema_inherited_with_fields", "kCreate: {id: 0, in: {x: u8}}\n", "namespace: ex\n", MOD, 1,
     "inherited method kCreate"),
    ("schema_unknown_direction", INHERITED_OK + "kA: {id: 10, input: {x: u8}}\n", "namespace: ex\n", MOD, 7,
     "unknown key 'input'"),
    ("default_query_unknown", INHERITED_OK + "default_query: nearest\nkA: 10\n", "namespace: ex\n", MOD, 7,
     "default_query must be one of dynamic, local"),
    ("default_query_not_scalar", INHERITED_OK + "default_query: [local]\nkA: 10\n", "namespace: ex\n", MOD, 7,
     "default_query must be one of"),
    ("default_query_twice", INHERITED_OK + "default_query: local\ndefault_query: dynamic\nkA: 10\n",
     "namespace: ex\n", MOD, 8, "duplicate key 'default_query' (first on line 7)"),
    ("repo_missing", INHERITED_OK, None, REPO, 1, "no chimaera_repo.yaml"),
    ("repo_no_namespace", INHERITED_OK, "# repo\nname: x\n", REPO, 2, "missing 'namespace'"),
    ("repo_empty", INHERITED_OK, "# nothing\n", REPO, 1, "'namespace'"),
    ("repo_bad_namespace", INHERITED_OK, "# repo\nnamespace: 1abc\n", REPO, 2, "C++ namespace"),
    ("repo_namespace_keyword", INHERITED_OK, "namespace: class\n", REPO, 1, "C++ namespace"),
    ("repo_namespace_int", INHERITED_OK, "namespace: 5\n", REPO, 1, "C++ namespace"),
    ("repo_namespace_bad_nesting", INHERITED_OK, "namespace: a:::b\n", REPO, 1, "C++ namespace"),
    ("repo_malformed", INHERITED_OK, "namespace: [ex\n", REPO, 2, "malformed YAML"),
    ("repo_duplicate_key", INHERITED_OK, "namespace: a\nnamespace: b\n", REPO, 2, "duplicate key"),
]


@pytest.mark.parametrize("name,mod_yaml,repo_yaml,bad_file,line,needle", ERROR_CASES,
                         ids=[c[0] for c in ERROR_CASES])
@pytest.mark.parametrize("existing_output", [False, True], ids=["fresh", "existing"])
def test_validation_error(tmp_path, name, mod_yaml, repo_yaml, bad_file, line, needle, existing_output):
    mod_dir = make_repo(tmp_path, mod_yaml, repo_yaml)
    out = tmp_path / "out"
    if existing_output:  # outputs of an earlier good run must stay as they were
        out.mkdir()
        (out / "mymod_methods.h").write_text("old methods\n")
        (out / "mymod_lib_exec.h").write_text("old lib_exec\n")
    before = {p: read(out / p) for p in os.listdir(out)} if out.exists() else None

    r = run_gen("gen", str(mod_dir), "--out", str(out))
    assert r.returncode == 2, (r.stdout, r.stderr)
    expected_path = str(mod_dir / MOD) if bad_file == MOD else str(mod_dir.parent / REPO)
    assert f"{expected_path}:{line}: error:" in r.stderr, r.stderr
    assert needle in r.stderr, r.stderr
    assert "no files written" in r.stderr
    if before is None:
        assert not out.exists()
    else:
        assert {p: read(out / p) for p in os.listdir(out)} == before


def test_all_errors_reported_at_once(tmp_path):
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kA: 10\nkB: 10\nFoo: 11\nkC: x\n")
    r = run_gen("check", str(mod_dir))
    assert r.returncode == 2
    mod_yaml = str(mod_dir / MOD)
    for line in (8, 9, 10):
        assert f"{mod_yaml}:{line}: error:" in r.stderr, r.stderr


def test_module_dir_not_identifier(tmp_path):
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kA: 10\n", mod="my-mod")
    r = run_gen("gen", str(mod_dir))
    assert r.returncode == 2
    assert f"{mod_dir / MOD}:1: error: module directory name 'my-mod'" in r.stderr
    assert not (mod_dir / "autogen").exists()


def test_expect_namespace_mismatch(tmp_path):
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kA: 10\n")
    out = tmp_path / "out"
    r = run_gen("gen", str(mod_dir), "--out", str(out), "--expect-namespace", "other")
    assert r.returncode == 2
    assert "namespace is 'example'" in r.stderr and "'other'" in r.stderr
    assert not out.exists()
    assert run_gen("gen", str(mod_dir), "--out", str(out), "--expect-namespace", "example").returncode == 0


def test_repo_yaml_option(tmp_path):
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kA: 10\n", repo_yaml=None)
    other = tmp_path / "elsewhere.yaml"
    other.write_text("namespace: far::away\n")
    assert run_gen("gen", str(mod_dir), "--repo-yaml", str(other)).returncode == 0
    assert "namespace far::away::mymod {" in read(mod_dir / "autogen" / "mymod_methods.h")


# ------------------------------------------------------ incremental rewriting
def test_unchanged_files_not_rewritten(tmp_path):
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kA: 10\n")
    out = tmp_path / "out"
    assert run_gen("gen", str(mod_dir), "--out", str(out)).returncode == 0
    methods, lib = out / "mymod_methods.h", out / "mymod_lib_exec.h"
    old = 1_000_000_000  # 2001: any rewrite would change it
    for p in (methods, lib):
        os.utime(p, (old, old))

    # Same input, then a comment-only edit: nothing is rewritten.
    r = run_gen("gen", str(mod_dir), "--out", str(out))
    assert r.returncode == 0 and "wrote" not in r.stdout
    (mod_dir / MOD).write_text(INHERITED_OK + "kA: 10  # a comment\n")
    assert run_gen("gen", str(mod_dir), "--out", str(out)).returncode == 0
    assert os.stat(methods).st_mtime == old and os.stat(lib).st_mtime == old

    # A new method changes both headers; a task-type change only lib_exec.
    (mod_dir / MOD).write_text(INHERITED_OK + "kA: 10\nkB: 11\n")
    r = run_gen("gen", str(mod_dir), "--out", str(out))
    assert r.returncode == 0 and r.stdout.count("wrote") == 2
    assert "kB = 11" in read(methods)
    for p in (methods, lib):
        os.utime(p, (old, old))
    (mod_dir / MOD).write_text(INHERITED_OK + "kA: 10\nkB: {id: 11, task: ATask}\n")
    r = run_gen("gen", str(mod_dir), "--out", str(out))
    assert r.returncode == 0 and r.stdout.count("wrote") == 1
    assert os.stat(methods).st_mtime == old and os.stat(lib).st_mtime != old
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]  # no temp files left


# -------------------------------------------------------------------- check
def test_check_detects_stale(tmp_path):
    src = os.path.join(GOLDEN, "seed_example")
    repo = tmp_path / "seed_example"
    shutil.copytree(src, repo)
    mod_dir = repo / "mod_name"
    assert run_gen("check", str(mod_dir)).returncode == 0

    # YAML edited, headers not regenerated.
    with open(mod_dir / MOD, "a") as f:
        f.write("kVerify: 12\n")
    r = run_gen("check", str(mod_dir))
    assert r.returncode == 1
    assert "+  static constexpr chi::u32 kVerify = 12;" in r.stdout  # a unified diff
    assert "(checked in)" in r.stdout and "(generated)" in r.stdout
    assert "stale" in r.stderr

    # check never writes; gen fixes it.
    assert "kVerify" not in read(mod_dir / "autogen" / "mod_name_methods.h")
    assert run_gen("gen", str(mod_dir)).returncode == 0
    assert run_gen("check", str(mod_dir)).returncode == 0

    # Hand-edited header, and a missing header.
    with open(mod_dir / "autogen" / "mod_name_lib_exec.h", "a") as f:
        f.write("// hand edit\n")
    r = run_gen("check", str(mod_dir))
    assert r.returncode == 1 and "-// hand edit" in r.stdout
    os.unlink(mod_dir / "autogen" / "mod_name_lib_exec.h")
    r = run_gen("check", str(mod_dir))
    assert r.returncode == 1 and "missing" in r.stderr


@pytest.mark.parametrize("module", SHIPPED)
def test_shipped_modules_up_to_date(module):
    r = run_gen("check", os.path.join(ROOT, module))
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------------- CLI
def test_help():
    r = run_gen("--help")
    assert r.returncode == 0
    for word in ("gen", "check", "MODULE_DIR", "chimaera_mod.yaml", "exit status"):
        assert word in r.stdout
    for sub in ("gen", "check"):
        r = run_gen(sub, "--help")
        assert r.returncode == 0 and "--repo-yaml" in r.stdout
    assert "--out" in run_gen("gen", "--help").stdout


def test_usage_errors(tmp_path):
    assert run_gen().returncode == 2  # no subcommand
    assert run_gen("frobnicate", str(tmp_path)).returncode == 2
    r = run_gen("gen", str(tmp_path / "nope"))
    assert r.returncode == 2 and "chimaera_mod.yaml:1: error:" in r.stderr


# ------------------------------------------------- missing handler (compiler)
CXX = shutil.which("g++") or shutil.which("c++")


@pytest.mark.skipif(CXX is None, reason="no C++ compiler")
def test_missing_handler_is_one_error_naming_yaml_method_and_signature(tmp_path):
    """A schema method without its handler in the Runtime: the compiler's
    error names chimaera_mod.yaml:LINE, the method and the function to write."""
    mod_dir = make_repo(tmp_path, INHERITED_OK + "kPut: {id: 10, in: {key: string, value: bytes}}\n"
                        "kGet: {id: 11, in: {key: string}, out: {value: bytes}}\n")
    assert run_gen("gen", str(mod_dir)).returncode == 0, "gen failed"
    src = tmp_path / "runtime.cc"
    src.write_text(textwrap.dedent("""\
        #include "chimaera/runtime/container.h"
        #include "mymod_schema.h"
        namespace example::mymod {
        class Runtime : public chi::Container {
         public:
        #include "mymod_lib_exec.h"
          void Put(chi::ipc::FullPtr<PutTask>, chi::RunContext &) {}
        };
        }  // namespace example::mymod
        chi::Container *instance = new example::mymod::Runtime();
        """))
    includes = [str(mod_dir / "autogen"), os.path.join(ROOT, "cpp", "chimods", "admin", "include"),
                os.path.join(ROOT, "cpp", "chimods", "admin", "autogen")]
    includes += [os.path.join(ROOT, "cpp", layer, "include") for layer in ("ipc", "core", "client", "runtime")]
    r = subprocess.run([CXX, "-std=c++20", "-fsyntax-only", "-DCHIMAERA_RUNTIME", *[f"-I{i}" for i in includes],
                        str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, r.stderr
    assert ("mymod/chimaera_mod.yaml:8: method kGet needs its handler: write `void Get(chi::ipc::FullPtr<GetTask> "
            "task, chi::RunContext &rctx)`") in errors[0], errors[0]
