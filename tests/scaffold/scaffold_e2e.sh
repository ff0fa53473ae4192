#!/usr/bin/env bash
# End-to-end test of module scaffolding against an INSTALLED Chimaera (issue 4):
#  1. cmake --install the current build tree into a temporary prefix;
#  2. scaffold a repo + module with the installed generator (bin/chimaera-gen),
#     and check that running new-repo / new-mod again refuses;
#  3. configure and build the scaffolded repo with find_package(chimaera)
#     (-DCMAKE_PREFIX_PATH=<prefix>, Ninja, -j2);
#  4. start <prefix>/bin/chimaera_runtime on a unique port with CHI_REPO_PATH
#     at the scaffolded build's lib/, run the scaffolded test client (exit 0);
#  5. with PYTHON (issues 5, 14): the Python module demo_hello that the
#     build generated from chimaera_mod.yaml (<build>/python), from PYTHON
#     with the `chimaera` package, against the same runtime: values,
#     futures, asyncio, errors (scaffold_py_check.py);
#  6. SIGTERM the runtime: exit 0 and /dev/shm/chimaera_<user>_<port> gone.
#
# usage: scaffold_e2e.sh BUILD_DIR [SANITIZE [PYTHON]]   (SANITIZE: '', address, thread)
# PYTHON: an interpreter that imports `chimaera` (the project's .venv/bin/python);
# empty: the Python module is neither built nor run.
# Set CHI_KEEP_TMP=1 to keep the temporary directory for inspection.
set -euo pipefail

build_dir=${1:?usage: scaffold_e2e.sh BUILD_DIR [SANITIZE]}
sanitize=${2:-}
python=${3:-}
if [[ -n $sanitize && -n $python ]]; then
  # A sanitized extension (and sanitized prefix libraries) cannot be loaded
  # into an uninstrumented Python without preloading the sanitizer runtime.
  echo "== SANITIZE=$sanitize: the Python module step is skipped"
  python=
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/chi_scaffold.XXXXXX")
prefix=$tmp/prefix
runtime_pid=
shm=

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  if [[ -f $tmp/runtime.log ]]; then
    echo "---- runtime log (tail) ----" >&2
    tail -n 40 "$tmp/runtime.log" >&2
  fi
  exit 1
}
cleanup() {
  if [[ -n $runtime_pid ]] && kill -0 "$runtime_pid" 2>/dev/null; then
    kill -KILL "$runtime_pid" 2>/dev/null || true
    wait "$runtime_pid" 2>/dev/null || true
  fi
  # Only our own segment, only if the runtime did not remove it.
  if [[ -n $shm && -e $shm ]]; then rm -f "$shm"; fi
  if [[ -z ${CHI_KEEP_TMP:-} ]]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

# Libraries must come from the prefix (RUNPATH), not from a build tree.
unset LD_LIBRARY_PATH CHI_SERVER_CONF

step "install $build_dir into $prefix"
cmake --install "$build_dir" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
for f in bin/chimaera_runtime bin/chimaera-gen lib/cmake/chimaera/chimaeraConfig.cmake \
         include/chimaera/client/ipc_manager.h include/chimaera/runtime/module_api.h \
         include/chimaera/ipc/allocator.h include/chimaera/core/task_archives.h \
         include/admin/admin_client.h include/admin/admin_methods.h include/admin/admin_lib_exec.h \
         include/chimaera/python/task_api.h \
         share/chimaera/chimod_templates/repo/chimaera_repo.yaml.j2; do
  [[ -e $prefix/$f ]] || fail "installed prefix lacks $f"
done
# The installed daemon must resolve libchimaera_runtime.so inside the prefix.
resolved=$(ldd "$prefix/bin/chimaera_runtime" | awk '$1 == "libchimaera_runtime.so" {print $3}')
[[ -n $resolved && $(readlink -f "$resolved") == $(readlink -f "$prefix/lib")/* ]] ||
  fail "installed chimaera_runtime loads libchimaera_runtime.so from '${resolved:-nowhere}', not $prefix/lib"

gen=$prefix/bin/chimaera-gen
step "scaffold $tmp/repo (namespace demo) + module hello with $gen"
"$gen" new-repo "$tmp/repo" --namespace demo || fail "new-repo"
"$gen" new-mod "$tmp/repo" hello || fail "new-mod"
for f in chimaera_repo.yaml CMakeLists.txt .gitignore hello/chimaera_mod.yaml hello/CMakeLists.txt \
         hello/include/hello/hello_client.h hello/src/hello_runtime.cc hello/test/hello_test.cc \
         hello/autogen/hello_methods.h hello/autogen/hello_lib_exec.h hello/autogen/hello_schema.h \
         hello/autogen/hello_python.cc; do
  [[ -f $tmp/repo/$f ]] || fail "scaffold lacks $f"
done
grep -q '^add_subdirectory(hello)$' "$tmp/repo/CMakeLists.txt" || fail "repo CMakeLists.txt lacks add_subdirectory(hello)"

step "re-running new-repo / new-mod must refuse"
cp "$tmp/repo/CMakeLists.txt" "$tmp/CMakeLists.before"
if "$gen" new-repo "$tmp/repo" --namespace demo 2> "$tmp/refuse.err"; then fail "new-repo over an existing repo succeeded"; fi
grep -q "$tmp/repo/.*already exists" "$tmp/refuse.err" || { cat "$tmp/refuse.err"; fail "new-repo refusal does not name the existing path"; }
if "$gen" new-mod "$tmp/repo" hello 2> "$tmp/refuse.err"; then fail "new-mod over an existing module succeeded"; fi
grep -q "$tmp/repo/hello already exists" "$tmp/refuse.err" || { cat "$tmp/refuse.err"; fail "new-mod refusal does not name the existing path"; }
cmp -s "$tmp/CMakeLists.before" "$tmp/repo/CMakeLists.txt" || fail "a refused command changed CMakeLists.txt"

step "configure + build the scaffolded repo against $prefix"
flags=()
case $sanitize in
  address) flags=(-DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
                  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined
                  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined) ;;
  thread) flags=(-DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer"
                 -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread) ;;
esac
if [[ -n $python ]]; then
  flags+=(-DPython3_EXECUTABLE="$python")
else
  flags+=(-Ddemo_PYTHON=OFF)
fi
cmake -G Ninja -S "$tmp/repo" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" "${flags[@]}" > "$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "configuring the scaffolded repo"; }
cmake --build "$tmp/build" -j2 > "$tmp/build.log" 2>&1 || { tail -n 60 "$tmp/build.log"; fail "building the scaffolded repo"; }
[[ -f $tmp/build/lib/libdemo_hello_runtime.so ]] || fail "no $tmp/build/lib/libdemo_hello_runtime.so"
[[ -x $tmp/build/bin/hello_test ]] || fail "no $tmp/build/bin/hello_test"
if [[ -n $python ]]; then
  ext=$(compgen -G "$tmp/build/python/demo_hello*.so" || true)
  [[ -n $ext ]] || { grep -i python "$tmp/configure.log"; fail "no Python module $tmp/build/python/demo_hello*.so"; }
  # Without LD_LIBRARY_PATH, chimaera._core (RUNPATH: its build tree) loads
  # first and demo_hello (RUNPATH: the prefix) gets the SAME
  # libchimaera_client.so: the loader reuses a loaded SONAME. Import only.
  step "one libchimaera_client.so for chimaera._core + demo_hello (import only)"
  PYTHONPATH=$tmp/build/python "$python" "$here/scaffold_py_check.py" 0 "$prefix/lib" --dedup-only ||
    fail "importing chimaera and demo_hello"
fi

step "install the scaffolded repo (exported targets demo::hello_client / demo::hello_runtime)"
cmake --install "$tmp/build" --prefix "$tmp/repo_prefix" > "$tmp/repo_install.log" ||
  { cat "$tmp/repo_install.log"; fail "installing the scaffolded repo"; }
for f in lib/cmake/demo/demoTargets.cmake lib/libdemo_hello_runtime.so include/hello/hello_client.h \
         include/hello/hello_schema.h include/hello/hello_methods.h; do
  [[ -e $tmp/repo_prefix/$f ]] || fail "installed scaffolded repo lacks $f"
done
grep -q "demo::hello_client" "$tmp/repo_prefix/lib/cmake/demo/demoTargets.cmake" || fail "demo::hello_client not exported"

# A port whose segment does not exist (ctest may run other runtimes at once).
user=$(id -un)
for _ in $(seq 100); do
  port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  shm=/dev/shm/chimaera_${user}_${port}
  [[ -e $shm ]] || break
done
[[ ! -e $shm ]] || fail "no free port found"

step "start $prefix/bin/chimaera_runtime on port $port (CHI_REPO_PATH=$tmp/build/lib)"
CHI_PORT=$port CHI_REPO_PATH=$tmp/build/lib "$prefix/bin/chimaera_runtime" > "$tmp/runtime.log" 2>&1 &
runtime_pid=$!

step "run the scaffolded client $tmp/build/bin/hello_test"
set +e
CHI_PORT=$port timeout 120 "$tmp/build/bin/hello_test"
rc=$?
set -e
[[ $rc -eq 0 ]] || fail "hello_test exited $rc"
grep -q "hello" "$tmp/runtime.log" || fail "runtime log does not mention the hello module"

if [[ -n $python ]]; then
  # LD_LIBRARY_PATH: chimaera._core (editable install, RUNPATH at a build tree)
  # then loads the installed prefix's client libraries, the ones demo_hello
  # links and the ones matching the installed runtime: one copy, one
  # IpcManager (checked by the script).
  step "demo_hello from $python (PYTHONPATH=$tmp/build/python, LD_LIBRARY_PATH=$prefix/lib)"
  set +e
  PYTHONPATH=$tmp/build/python LD_LIBRARY_PATH=$prefix/lib timeout 120 \
    "$python" "$here/scaffold_py_check.py" "$port" "$prefix/lib"
  rc=$?
  set -e
  [[ $rc -eq 0 ]] || fail "the Python check of demo_hello exited $rc"
else
  step "no PYTHON given: Python module demo_hello not built nor checked"
fi

step "SIGTERM the runtime"
kill -TERM "$runtime_pid"
for _ in $(seq 300); do
  kill -0 "$runtime_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$runtime_pid" 2>/dev/null && fail "runtime still running 30 s after SIGTERM"
set +e
wait "$runtime_pid"
rc=$?
set -e
runtime_pid=
[[ $rc -eq 0 ]] || fail "runtime exited $rc after SIGTERM"
[[ ! -e $shm ]] || fail "$shm still exists after the runtime stopped"
shm=

echo "PASS: scaffolded repo built against the installed Chimaera; its test client${python:+ and its Python module} passed"
