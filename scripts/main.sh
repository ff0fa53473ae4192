#!/usr/bin/env bash
# The main job: set up and build, start a single-node runtime, compress then
# decompress every regular file under DIR through the runtime's compressor
# module (files read straight into shared memory, several in flight, every
# round trip verified byte for byte), beside the same job done end to end by
# one thread without the runtime and by `zstd -T1` / `zstd -T2` on a tar of
# DIR (all from a warm page cache, columns run in turn for --rounds rounds,
# medians reported), then stop the runtime and check that it exited 0 and
# left no shared memory behind.
# With --nodes N (N > 1), the distributed form: N runtime nodes on this
# machine (127.0.0.2, 127.0.0.3, ..., one port), the compressor pool spread
# over them (files placed by GetDirectHash of their path, bulk data over
# ZeroMQ), a column for a pool on node 0 only, the files and MB each node
# handled; every node must exit 0 and unlink its shared memory.
# Usage: scripts/main.sh [--nodes N] [--workers N] [--rounds N] [DIR] [chimaera_compress_dir options...]
#   --nodes N    runtime nodes on this machine (default 1)
#   --workers N  runtime worker threads per node (default: the runtime's, cores - 1)
#   --rounds N   rounds of every column (default 3)
#   DIR          default: the standard library of Debian's Python (a mixed
#                corpus of tens of MB present on every machine)
#   other options go to build/bin/chimaera_compress_dir (see its --help)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '\033[1m[main]\033[0m %s\n' "$*"; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

WORKERS="" ROUNDS=3 DIR="" PASS=() NODES=1
while (($#)); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --workers) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -ge 1 ]] || { log "--workers needs a number >= 1"; exit 2; }
               WORKERS="$2"; shift 2 ;;
    --nodes) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -ge 1 && "$2" -le 200 ]] || { log "--nodes needs a number 1..200"; exit 2; }
             NODES="$2"; shift 2 ;;
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
HOSTS=() SEGS=() CONFS=() PIDS=()
for ((k = 0; k < NODES; k++)); do
  CONF="$(mktemp /tmp/chimaera-main-XXXXXX.yaml)"
  CONFS+=("$CONF")
  { echo "port: $PORT"; [[ -n "$WORKERS" ]] && echo "workers: $WORKERS"; } > "$CONF"
  if ((NODES > 1)); then
    HOSTS+=("127.0.0.$((2 + k))")
    SEGS+=("/dev/shm/chimaera_$(id -un)_${PORT}_127.0.0.$((2 + k))")
  else
    SEGS+=("/dev/shm/chimaera_$(id -un)_${PORT}")
  fi
done
if ((NODES > 1)); then
  TABLE="$(IFS=,; echo "${HOSTS[*]}")"
  for ((k = 0; k < NODES; k++)); do
    printf 'networking:\n  hosts: [%s]\n  node_id: %d\n' "$TABLE" "$k" >> "${CONFS[$k]}"
  done
  export CHI_HOST="${HOSTS[0]}"
fi
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; rm -f "${CONFS[@]}"; }
trap cleanup EXIT

for ((k = 0; k < NODES; k++)); do
  log "starting build/bin/chimaera_runtime node $k of $NODES (port $PORT${HOSTS[$k]:+, ${HOSTS[$k]}}${WORKERS:+, $WORKERS workers})"
  build/bin/chimaera_runtime --config "${CONFS[$k]}" 2> >(sed "s/^/  node $k| /" >&2) &
  PIDS+=($!)
done

log "compressing $DIR through the runtime (and the baselines, $ROUNDS rounds)"
if ((NODES > 1)); then
  has_spread=0
  for a in ${PASS[@]+"${PASS[@]}"}; do [[ "$a" == --spread ]] && has_spread=1; done
  ((has_spread)) || PASS+=(--spread hash)
fi
build/bin/chimaera_compress_dir "$DIR" --rounds "$ROUNDS" ${PASS[@]+"${PASS[@]}"}

log "stopping the runtime (SIGTERM to every node)"
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
bad=0
for ((k = 0; k < NODES; k++)); do
  wait "${PIDS[$k]}" && rc=0 || rc=$?
  [[ $rc -eq 0 ]] || { log "node $k exited with $rc"; bad=1; }
done
trap - EXIT
rm -f "${CONFS[@]}"
for seg in "${SEGS[@]}"; do [[ ! -e "$seg" ]] || { log "shared memory $seg left behind"; bad=1; }; done
((bad == 0)) || exit 1
log "every node ($NODES) exited 0 and unlinked its shared memory"
