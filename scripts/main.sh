#!/usr/bin/env bash
# The main job: set up and build, start a single-node runtime, compress then
# decompress every regular file under DIR through the runtime's compressor
# module (files read straight into shared memory, several in flight, every
# round trip verified byte for byte), beside the same job done end to end by
# one thread without the runtime and by `zstd -T1` / `zstd -T2` on a tar of
# DIR (all from a warm page cache, columns run in turn for --rounds rounds,
# medians reported), then stop the runtime and check that it exited 0 and
# left no shared memory behind.
# Usage: scripts/main.sh [--workers N] [--rounds N] [DIR] [chimaera_compress_dir options...]
#   --workers N  runtime worker threads (default: the runtime's, cores - 1)
#   --rounds N   rounds of every column (default 3)
#   DIR          default: the standard library of Debian's Python (a mixed
#                corpus of tens of MB present on every machine)
#   other options go to build/bin/chimaera_compress_dir (see its --help)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m[main]\033[0m %s\n' "$*"; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

WORKERS="" ROUNDS=3 DIR="" PASS=()
while (($#)); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --workers) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -ge 1 ]] || { log "--workers needs a number >= 1"; exit 2; }
               WORKERS="$2"; shift 2 ;;
    --rounds) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -ge 1 ]] || { log "--rounds needs a number >= 1"; exit 2; }
              ROUNDS="$2"; shift 2 ;;
    -*) PASS+=("$1"); shift ;;
    *) if [[ -z "$DIR" ]]; then DIR="$1"; else PASS+=("$1"); fi; shift ;;
  esac
done

scripts/setup.sh
DIR="${DIR:-$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}"
[[ -d "$DIR" ]] || { log "not a directory: $DIR"; exit 2; }
PORT="${CHI_PORT:-$((20000 + RANDOM % 20000))}"
export CHI_PORT="$PORT"
SEG="/dev/shm/chimaera_$(id -un)_${PORT}"
CONF="$(mktemp /tmp/chimaera-main-XXXXXX.yaml)"
{ echo "port: $PORT"; [[ -n "$WORKERS" ]] && echo "workers: $WORKERS"; } > "$CONF"

log "starting build/bin/chimaera_runtime (port $PORT${WORKERS:+, $WORKERS workers})"
build/bin/chimaera_runtime --config "$CONF" 2> >(sed 's/^/  runtime| /' >&2) &
RT=$!
trap 'kill -TERM $RT 2>/dev/null || true; rm -f "$CONF"' EXIT

log "compressing $DIR through the runtime (and the baselines, $ROUNDS rounds)"
build/bin/chimaera_compress_dir "$DIR" --rounds "$ROUNDS" ${PASS[@]+"${PASS[@]}"}

log "stopping the runtime (SIGTERM)"
kill -TERM $RT
wait $RT && rc=0 || rc=$?
trap - EXIT
rm -f "$CONF"
[[ $rc -eq 0 ]] || { log "runtime exited with $rc"; exit 1; }
[[ ! -e "$SEG" ]] || { log "shared memory $SEG left behind"; exit 1; }
log "runtime exited 0 and unlinked its shared memory"
