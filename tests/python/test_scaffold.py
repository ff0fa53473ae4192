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
  * the generated Python bindings (python/<mod>_py.cc, issue 5) and the
    CMake that builds them only when Python 3 and pybind11 are found
    (building and calling them from Python is part of scaffold_e2e);
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
# Chimaera ships); test/ holds the scaffold's client test program and
# python/ the pybind11 bindings (issue 5).
SEED_REPO_FILES = {"chimaera_repo.yaml", "CMakeLists.txt"}
SEED_MOD_FILES = {
    "chimaera_mod.yaml",
    "CMakeLists.txt",
    "autogen/{m}_lib_exec.h",
    "autogen/{m}_methods.h",
    "include/{m}/{m}_client.h",
    "include/{m}/{m}_tasks.h",
    "src/{m}_client.cc",
    "src/{m}_runtime.cc",
}
EXTRA_MOD_FILES = {"test/{m}_test.cc", "python/{m}_py.cc"}


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
    assert "chimaera_add_module(NAMESPACE demo NAME hello" in cmake
    assert "CLIENT_SOURCES src/hello_client.cc" in cmake
    assert "RUNTIME_SOURCES src/hello_runtime.cc" in cmake
    assert "LIBS chimaera::admin_client" in cmake
    assert "kExample: 10" in read(mod / "chimaera_mod.yaml")

    tasks = read(mod / "include/hello/hello_tasks.h")
    assert "namespace demo::hello {" in tasks
    assert '#include "chimaera/core/task_archives.h"' in tasks
    assert "using CreateTask = chimaera::admin::CreatePoolTask;" in tasks
    assert "using DestroyTask = chimaera::admin::DestroyPoolTask;" in tasks
    assert "explicit ExampleTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc)" in tasks
    for field in ("IN chi::ipc::Pointer data_;", "IN chi::u64 data_size_", "INOUT chi::u64 counter_",
                  "OUT chi::u64 sum_", "OUT chi::ipc::string message_;"):
        assert field in tasks, field
    assert "void SerializeIn(Ar &ar)" in tasks and "void SerializeOut(Ar &ar)" in tasks
    assert "ar.bulk(data_, data_size_, chi::CHI_WRITE);" in tasks

    runtime = read(mod / "src/hello_runtime.cc")
    assert "void Example(chi::ipc::FullPtr<ExampleTask> task, chi::RunContext &" in runtime
    assert "void MonitorExample(chi::MonitorModeId mode, chi::ipc::FullPtr<ExampleTask> task" in runtime
    for mode in ("kLocalSchedule", "kGlobalSchedule", "kEstLoad"):
        assert f"case chi::MonitorModeId::{mode}:" in runtime
    assert '#include "hello_lib_exec.h"' in runtime
    assert 'CHI_TASK_CC(demo::hello::Runtime, "hello");' in runtime

    client = read(mod / "include/hello/hello_client.h")
    assert "class Client : public chi::ContainerClient" in client
    assert "GetAllocator().Allocate(size)" in client
    test = read(mod / "test/hello_test.cc")
    assert "CHI_IPC_MANAGER->ClientInit()" in test and "int main(" in test
    # the runtime's error path, and the client test exercising it
    assert "chi::kTaskBadArgument" in runtime and "non-empty label" in runtime
    assert "catch (const chi::TaskError &e)" in test and "chi::kTaskBadArgument" in test


def test_generated_python_bindings(tmp_path):
    new_repo(str(tmp_path / "r"), "acme")
    new_mod(str(tmp_path / "r"), "widget")
    mod = tmp_path / "r" / "widget"
    py = read(mod / "python/widget_py.cc")
    assert "PYBIND11_MODULE(acme_widget, m)" in py
    assert '#include "widget/widget_client.h"' in py
    assert "acme::widget::Client client_;" in py
    for name in ('"create"', '"destroy"', '"pool_id"', '"example"', '"connected"', '"connected_port"'):
        assert f"{name}," in py, name
    assert 'py::arg("label"), py::arg("data"), py::arg("counter") = 0' in py
    assert 'pool_name, "widget", args' in py  # creates pools of this module
    # errors: chimaera's exception types when importable, else its own
    assert 'py::module_::import("chimaera")' in py
    assert '"TaskError"' in py and '"RuntimeUnavailableError"' in py
    assert "catch (const chi::TaskError &e)" in py and "catch (const chi::RuntimeUnavailable &e)" in py
    # no connect of its own: the process connects with chimaera.connect
    assert "call chimaera.connect(port) first" in py
    assert "gil_scoped_release" in py and "PyErr_CheckSignals" in py
    assert "{{" not in py and "{%" not in py

    cmake = read(mod / "CMakeLists.txt")
    assert "option(acme_PYTHON " in cmake
    assert "find_package(Python3 COMPONENTS Interpreter Development.Module QUIET)" in cmake
    assert "find_package(pybind11 2.6 CONFIG QUIET)" in cmake
    assert "if(Python3_FOUND AND pybind11_FOUND)" in cmake  # the repo still builds without them
    assert "pybind11_add_module(acme_widget_py MODULE python/widget_py.cc)" in cmake
    assert "target_link_libraries(acme_widget_py PRIVATE acme::widget_client)" in cmake
    assert "OUTPUT_NAME acme_widget" in cmake
    assert "LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/python" in cmake


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
    assert (tmp_path / "r" / good / "include" / good / f"{good}_tasks.h").is_file()


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
    assert e.value.path in (str(repo / "CMakeLists.txt"), str(repo / "chimaera_repo.yaml"))
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
