#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for Chimaera: install the missing Debian
# packages (scripts/debian-packages.txt), configure and build into build/, and
# make the Python virtual environment .venv from Debian's interpreter.
# Idempotent: a second run only rebuilds what changed.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' scripts/debian-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own interpreter sees the python3-* packages; another python3 first
# on PATH (pyenv, conda) would not.
PY=/usr/bin/python3
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv from $PY (with system site packages)"
  "$PY" -m venv --system-site-packages .venv
fi

[[ "${1:-}" == "--no-build" ]] && exit 0
JOBS="${CHI_JOBS:-$(nproc)}"
log "building (build/, RelWithDebInfo, -j$JOBS)"
# _core is written into the source package (the editable install below uses
# it), so every `cmake --build build` keeps it in step with the C++ code, even
# after a non-editable `pip install .` reused build/ with another output dir.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHI_BUILD_PYTHON=ON \
  -DPython3_EXECUTABLE="$ROOT/.venv/bin/python" -DCHI_PYTHON_OUTPUT_DIR="$ROOT/python/chimaera" >/dev/null
cmake --build build -j "$JOBS"
# The Python package (editable): reuses build/, so this only links _core.
if ! .venv/bin/python -c 'import chimaera' 2>/dev/null; then
  log "installing the chimaera Python package into .venv (editable)"
  .venv/bin/pip install --no-build-isolation --no-deps -q -e .
fi
