"""Tests of ChiMod scaffolding: `chimaera-gen new-repo` / `new-mod` and
chimaera_codegen.scaffold.new_repo / new_mod (issue 4, DESIGN.md §6, seeds 002/004).

Run: /usr/bin/python3 -m pytest --noconftest tests/python/test_scaffold.py
(needs python3-jinja2 and python3-yaml, not the chimaera extension). Building
and running a scaffolded module against an installed Chimaera is the ctest
`scaffold_e2e` (tests/scaffold/scaffold_e2e.sh).

  * name validation (identifiers, keywords, reserved names), each refused
    with ScaffoldError and nothing written;
  * re-running over existing files refuses, names the path, changes nothing;
  * the generated tree is the seed's module repo layout;
  * the generated autogen/ headers are what `chimaera-gen check` expects;
  * the module declares its method with the task schema (issue 14): the
    generated autogen/ holds the task, client and Python binding, and the
    hand-written files are the handler, the client class and a test program
    (building and calling it from C++ and Python is scaffold_e2e);
  * the CLI: --help everywhere, exit status 2 on refusal, python -m and the wrapper.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATORS = os.path.join(ROOT, "generators")
WRAPPER = os.path.join(GENERATORS, "chimaera-gen")
sys.path.insert(0, GENERATORS)

from chimaera_codegen import scaffold  # noqa: E402
from chimaera_codegen.scaffold import ScaffoldError, ScaffoldExists, new_mod, new_repo  # noqa: E402

# Seed 002/004 "Module Repo" tree for module `mod_name`. The seed's
# src/CMakeLists.txt is folded into mod_name/CMakeLists.txt (as in the modules
# Chimaera ships); the seed's <mod>_tasks.h and src/<mod>_client.cc are
# generated (autogen/<mod>_schema.h, from chimaera_mod.yaml) and so is the
# Python binding (autogen/<mod>_python.cc); test/ holds a client program.
SEED_REPO_FILES = {"chimaera_repo.yaml", "CMakeLists.txt", ".gitignore"}
SEED_MOD_FILES = {
    "chimaera_mod.yaml",
    "CMakeLists.txt",
    "autogen/{m}_lib_exec.h",
    "autogen/{m}_methods.h",
    "autogen/{m}_schema.h",
    "autogen/{m}_python.cc",
    "include/{m}/{m}_client.h",
    "src/{m}_runtime.cc",
}
EXTRA_MOD_FILES = {"test/{m}_test.cc"}


def tree(path):
    """Every file under `path`, relative, with '/' separators."""
    out = set()
    for dirpath, _, names in os.walk(path):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), path).replace(os.sep, "/"))
    return out


def snapshot(path):
    """relative path -> content of every file under `path`."""
    out = {}
    for rel in tree(path):
        with open(os.path.join(path, rel), "rb") as f:
            out[rel] = f.read()
    return out


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run_cli(*args, wrapper=False):
    env = dict(os.environ, PYTHONPATH=GENERATORS, PYTHONDONTWRITEBYTECODE="1")
    cmd = [WRAPPER, *args] if wrapper else [sys.executable, "-m", "chimaera_codegen", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "repo"
    new_repo(str(path), "demo")
    return path


# ---------------------------------------------------------------- layout ----

def test_new_repo_layout(tmp_path):
    path = tmp_path / "a" / "b" / "repo"  # missing parents are created
    written = new_repo(str(path), "demo")
    assert tree(path) == SEED_REPO_FILES
    assert sorted(written) == sorted(str(path / f) for f in SEED_REPO_FILES)
    assert "namespace: demo" in read(path / "chimaera_repo.yaml")
    cmake = read(path / "CMakeLists.txt")
    assert "find_package(chimaera REQUIRED)" in cmake
    assert "add_subdirectory(" not in cmake.replace("add_subdirectory(<mod>)", "")


def test_new_repo_into_existing_empty_dir(tmp_path):
    new_repo(str(tmp_path), "demo")
    assert tree(tmp_path) == SEED_REPO_FILES


def test_new_mod_layout_matches_seed(repo):
    written = new_mod(str(repo), "hello")
    want = {f.format(m="hello") for f in SEED_MOD_FILES | EXTRA_MOD_FILES}
    assert tree(repo / "hello") == want
    assert tree(repo) == SEED_REPO_FILES | {"hello/" + f for f in want}
    assert str(repo / "CMakeLists.txt") in written
    assert set(written) == {str(repo / "hello" / f) for f in want} | {str(repo / "CMakeLists.txt")}


def test_new_mod_adds_subdirectory_lines_in_order(repo):
    new_mod(str(repo), "hello")
    new_mod(str(repo), "world")
    lines = read(repo / "CMakeLists.txt").splitlines()
    subdirs = [line for line in lines if line.startswith("add_subdirectory(")]
    assert subdirs == ["add_subdirectory(hello)", "add_subdirectory(world)"]
    # inside the modules section, before the install(EXPORT) block
    end = lines.index("# ---- end of modules ----")
    assert lines.index("add_subdirectory(world)") == end - 1
    assert lines.index("add_subdirectory(hello)") > lines.index(
        next(line for line in lines if line.startswith("# ---- modules")))


def test_new_mod_appends_when_markers_are_gone(repo):
    cmake = repo / "CMakeLists.txt"
    cmake.write_text("cmake_minimum_required(VERSION 3.25)\nproject(demo)\nfind_package(chimaera REQUIRED)")
    new_mod(str(repo), "hello")
    assert read(cmake).endswith("find_package(chimaera REQUIRED)\nadd_subdirectory(hello)\n")


def test_generated_module_content(repo):
    new_mod(str(repo), "hello")
    mod = repo / "hello"
    cmake = read(mod / "CMakeLists.txt")
    assert "chimaera_add_module(NAMESPACE demo NAME hello EXPORT demoTargets ${_hello_python}" in cmake
    assert "RUNTIME_SOURCES src/hello_runtime.cc" in cmake
    assert "LIBS chimaera::admin_client" in cmake
    assert "option(demo_PYTHON " in cmake and "set(_hello_python PYTHON)" in cmake
    assert "kExample: {id: 10, in: {label: string, data: bytes}" in read(mod / "chimaera_mod.yaml")

    schema = read(mod / "autogen/hello_schema.h")
    assert "namespace demo::hello {" in schema
    assert "using CreateTask = chimaera::admin::CreatePoolTask;" in schema
    assert "struct ExampleTask : public chi::Task {" in schema
    for field in ("IN chi::ipc::string label_;", "IN chi::ipc::Pointer data_;", "INOUT std::uint64_t counter_",
                  "OUT std::uint64_t sum_", "OUT chi::ipc::string message_;"):
        assert field in schema, field
    assert "ar.bulk(data_, data_size_, chi::CHI_WRITE);" in schema
    assert "ExampleResult Example(std::string_view label, std::string_view data, std::uint64_t counter)" in schema

    runtime = read(mod / "src/hello_runtime.cc")
    assert "void Example(chi::ipc::FullPtr<ExampleTask> task, chi::RunContext &" in runtime
    assert '#include "hello_lib_exec.h"' in runtime
    assert 'CHI_TASK_CC(demo::hello::Runtime, "hello");' in runtime
    # The container's concurrency contract, and how to get one lane.
    assert "AT THE SAME TIME" in runtime and "CreateLocalQueue(0, 1)" in runtime

    client = read(mod / "include/hello/hello_client.h")
    assert "class Client : public GeneratedClient {};" in client
    test = read(mod / "test/hello_test.cc")
    assert "CHI_IPC_MANAGER->ClientInit()" in test and "int main(" in test
    assert "AsyncExample(" in test and "WaitExample(" in test
    # the runtime's error path, and the client test exercising it
    assert "chi::kTaskBadArgument" in runtime and "non-empty label" in runtime
    assert "catch (const chi::TaskError &e)" in test and "chi::kTaskBadArgument" in test
    assert read(repo / ".gitignore") .splitlines()[-1] == "/build*/"


def test_generated_python_binding(tmp_path):
    new_repo(str(tmp_path / "r"), "acme")
    new_mod(str(tmp_path / "r"), "widget")
    py = read(tmp_path / "r" / "widget" / "autogen" / "widget_python.cc")
    assert "PYBIND11_MODULE(acme_widget, m)" in py
    assert '#include "widget_schema.h"' in py
    assert "class WidgetPool(_chimaera.Pool):" in py
    assert "def example(self, label, data, counter, *, node=None):" in py
    assert "def example_async(self, label, data, counter, *, node=None):" in py
    assert '_chimaera.register_pool_class("acme::widget", WidgetPool)' in py
    assert "chi::pyapi::ImportTaskApi()" in py


def test_generated_text_has_no_template_leftovers(repo):
    new_mod(str(repo), "hello")
    for rel, data in snapshot(repo).items():
        text = data.decode("utf-8")
        assert "{{" not in text and "{%" not in text and "{#" not in text, rel


def test_autogen_is_up_to_date(repo):
    new_mod(str(repo), "hello")
    r = run_cli("check", str(repo / "hello"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "namespace demo::hello" in read(repo / "hello/autogen/hello_methods.h")
    assert "case Method::kExample:" in read(repo / "hello/autogen/hello_lib_exec.h")


# ----------------------------------------------------------- validation ----

BAD_IDENTIFIERS = ["", "1abc", "my-mod", "a b", "a::b", "café", "class", "namespace", "int", "co_await",
                   "and", "a__b", "_x", "__x"]


@pytest.mark.parametrize("ns", BAD_IDENTIFIERS + ["chi", "std", "hipc", "chimaera"])
def test_new_repo_rejects_bad_namespace(tmp_path, ns):
    path = tmp_path / "repo"
    with pytest.raises(ScaffoldError) as e:
        new_repo(str(path), ns)
    assert not isinstance(e.value, ScaffoldExists)
    assert repr(ns) in str(e.value) or (ns == "" and "empty" in str(e.value))
    assert not path.exists()


@pytest.mark.parametrize("mod", BAD_IDENTIFIERS + ["admin", "small_message"])
def test_new_mod_rejects_bad_name(repo, mod):
    before = snapshot(repo)
    with pytest.raises(ScaffoldError) as e:
        new_mod(str(repo), mod)
    assert not isinstance(e.value, ScaffoldExists)
    assert snapshot(repo) == before


@pytest.mark.parametrize("good", ["hello", "Hello2", "my_mod", "x"])
def test_good_names(tmp_path, good):
    new_repo(str(tmp_path / "r"), good)
    new_mod(str(tmp_path / "r"), good)
    assert (tmp_path / "r" / good / "include" / good / f"{good}_client.h").is_file()


def test_new_mod_needs_existing_repo(tmp_path):
    with pytest.raises(ScaffoldError, match="no such repo directory"):
        new_mod(str(tmp_path / "missing"), "hello")
    assert not (tmp_path / "missing").exists()


def test_new_mod_needs_repo_yaml(tmp_path):
    (tmp_path / "CMakeLists.txt").write_text("project(x)\n")
    with pytest.raises(ScaffoldError, match="chimaera_repo.yaml"):
        new_mod(str(tmp_path), "hello")
    assert tree(tmp_path) == {"CMakeLists.txt"}


def test_new_mod_needs_repo_cmakelists(repo):
    os.remove(repo / "CMakeLists.txt")
    with pytest.raises(ScaffoldError, match="CMakeLists.txt"):
        new_mod(str(repo), "hello")
    assert not (repo / "hello").exists()


def test_new_mod_rejects_bad_repo_yaml(repo):
    (repo / "chimaera_repo.yaml").write_text("namespace: 1bad\n")
    with pytest.raises(ScaffoldError, match="chimaera_repo.yaml:1"):
        new_mod(str(repo), "hello")
    (repo / "chimaera_repo.yaml").write_text("namespace: a::b\n")
    with pytest.raises(ScaffoldError, match="qualified"):
        new_mod(str(repo), "hello")
    assert not (repo / "hello").exists()


# ------------------------------------------------------------- refusals ----

def test_new_repo_twice_refuses(repo):
    before = snapshot(repo)
    with pytest.raises(ScaffoldExists) as e:
        new_repo(str(repo), "demo")
    assert e.value.path in (str(repo / "CMakeLists.txt"), str(repo / "chimaera_repo.yaml"), str(repo / ".gitignore"))
    assert e.value.path in str(e.value)
    assert snapshot(repo) == before


def test_new_repo_refuses_one_existing_file(tmp_path):
    (tmp_path / "chimaera_repo.yaml").write_text("namespace: mine\n")
    with pytest.raises(ScaffoldExists, match="chimaera_repo.yaml already exists"):
        new_repo(str(tmp_path), "demo")
    assert tree(tmp_path) == {"chimaera_repo.yaml"}  # CMakeLists.txt not written either
    assert read(tmp_path / "chimaera_repo.yaml") == "namespace: mine\n"


def test_new_repo_refuses_a_file_path(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(ScaffoldExists, match="afile already exists"):
        new_repo(str(f), "demo")


def test_new_mod_twice_refuses(repo):
    new_mod(str(repo), "hello")
    (repo / "hello" / "src" / "hello_runtime.cc").write_text("// my edits\n")
    before = snapshot(repo)
    with pytest.raises(ScaffoldExists) as e:
        new_mod(str(repo), "hello")
    assert e.value.path == str(repo / "hello")
    assert str(repo / "hello") in str(e.value)
    assert snapshot(repo) == before


def test_new_mod_refuses_existing_file_named_like_module(repo):
    (repo / "hello").write_text("not a module")
    with pytest.raises(ScaffoldExists):
        new_mod(str(repo), "hello")
    assert "add_subdirectory(hello)" not in read(repo / "CMakeLists.txt")


def test_new_mod_is_all_or_nothing(repo, monkeypatch):
    def broken(*_a, **_k):
        raise OSError("disk full")
    monkeypatch.setattr(scaffold, "write_outputs", broken)
    before = snapshot(repo)
    with pytest.raises(OSError):
        new_mod(str(repo), "hello")
    assert snapshot(repo) == before
    assert not (repo / "hello").exists()


def test_templates_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIMAERA_TEMPLATES_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ScaffoldError, match="CHIMAERA_TEMPLATES_DIR"):
        new_repo(str(tmp_path / "r"), "demo")


# ------------------------------------------------------------------ CLI ----

@pytest.mark.parametrize("args", [["--help"], ["new-repo", "--help"], ["new-mod", "--help"]])
@pytest.mark.parametrize("wrapper", [False, True])
def test_help(args, wrapper):
    r = run_cli(*args, wrapper=wrapper)
    assert r.returncode == 0, r.stderr
    assert "usage: chimaera-gen" in r.stdout
    if args[0] == "--help":
        assert "new-repo" in r.stdout and "new-mod" in r.stdout
    else:
        assert {"new-repo": "--namespace", "new-mod": "REPO"}[args[0]] in r.stdout


def test_cli_new_repo_and_new_mod(tmp_path):
    path = str(tmp_path / "repo")
    r = run_cli("new-repo", path, "--namespace", "demo")
    assert r.returncode == 0, r.stderr
    assert f"wrote {os.path.join(path, 'chimaera_repo.yaml')}" in r.stdout
    r = run_cli("new-mod", path, "hello", wrapper=True)
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(os.path.join(path, "hello", "autogen", "hello_lib_exec.h"))
    r = run_cli("new-mod", "-q", path, "world")
    assert r.returncode == 0 and r.stdout == ""


def test_cli_refusals_exit_2_and_name_the_path(tmp_path):
    path = str(tmp_path / "repo")
    assert run_cli("new-repo", path, "--namespace", "demo").returncode == 0
    assert run_cli("new-mod", path, "hello").returncode == 0
    r = run_cli("new-repo", path, "--namespace", "demo")
    assert r.returncode == 2
    assert "already exists" in r.stderr and path in r.stderr
    r = run_cli("new-mod", path, "hello")
    assert r.returncode == 2
    assert f"{os.path.join(path, 'hello')} already exists" in r.stderr
    r = run_cli("new-mod", path, "class")
    assert r.returncode == 2 and "'class'" in r.stderr
    r = run_cli("new-mod", str(tmp_path / "nope"), "hello")
    assert r.returncode == 2 and "no such repo" in r.stderr
    r = run_cli("new-repo", str(tmp_path / "r2"))  # --namespace is required
    assert r.returncode == 2 and "--namespace" in r.stderr
