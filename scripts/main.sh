#!/usr/bin/env bash
# The main job, as far as the product exists today: set up and build, start
# the runtime daemon from its built-in defaults, drive it from a C++ client
# (create a small_message pool, sync and async empty tasks, figures), stop it
# with an admin StopRuntime task, and check that it exited 0 and left no
# shared memory behind.
# Usage: scripts/main.sh [--tasks N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m[main]\033[0m %s\n' "$*"; }
TASKS=100000
[[ "${1:-}" == "--tasks" ]] && TASKS="$2"

scripts/setup.sh
PORT="${CHI_PORT:-$((20000 + RANDOM % 20000))}"
export CHI_PORT="$PORT"
SEG="/dev/shm/chimaera_$(id -un)_${PORT}"

log "starting build/bin/chimaera_runtime on port $PORT"
build/bin/chimaera_runtime 2> >(sed 's/^/  runtime| /' >&2) &
RT=$!
trap 'kill -TERM $RT 2>/dev/null || true' EXIT
for _ in $(seq 200); do [[ -e "$SEG" ]] && break; sleep 0.01; done

log "running build/bin/chimaera_ping --tasks $TASKS --stop"
build/bin/chimaera_ping --tasks "$TASKS" --stop
wait $RT && rc=0 || rc=$?
trap - EXIT
[[ $rc -eq 0 ]] || { log "runtime exited with $rc"; exit 1; }
[[ ! -e "$SEG" ]] || { log "shared memory $SEG left behind"; exit 1; }
log "runtime exited 0 and unlinked its shared memory"
