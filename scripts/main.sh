#!/usr/bin/env bash
# The main job: set up and build, start a single-node runtime from its
# built-in defaults, compress then decompress every regular file under DIR
# through the runtime's compressor module (several files in flight, every
# round trip verified byte for byte), compare with one thread without the
# runtime, then stop the runtime and check it exited 0 and left no shared
# memory behind.
# Usage: scripts/main.sh [DIR] [chimaera_compress_dir options...]
#   DIR defaults to the standard library of Debian's Python (a mixed corpus
#   of tens of MB present on every machine).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m[main]\033[0m %s\n' "$*"; }
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

scripts/setup.sh
DIR="${1:-$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}"
shift || true
[[ -d "$DIR" ]] || { log "not a directory: $DIR"; exit 2; }
PORT="${CHI_PORT:-$((20000 + RANDOM % 20000))}"
export CHI_PORT="$PORT"
SEG="/dev/shm/chimaera_$(id -un)_${PORT}"

log "starting build/bin/chimaera_runtime (defaults, port $PORT)"
build/bin/chimaera_runtime 2> >(sed 's/^/  runtime| /' >&2) &
RT=$!
trap 'kill -TERM $RT 2>/dev/null || true' EXIT

log "compressing $DIR through the runtime"
build/bin/chimaera_compress_dir "$DIR" "$@"

log "stopping the runtime (SIGTERM)"
kill -TERM $RT
wait $RT && rc=0 || rc=$?
trap - EXIT
[[ $rc -eq 0 ]] || { log "runtime exited with $rc"; exit 1; }
[[ ! -e "$SEG" ]] || { log "shared memory $SEG left behind"; exit 1; }
log "runtime exited 0 and unlinked its shared memory"
