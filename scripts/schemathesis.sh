#!/usr/bin/env bash
# Fuzz the HTTP API against its own OpenAPI document with schemathesis.
#
#   scripts/schemathesis.sh [PATH/TO/warden]
#
# Starts `warden serve` on a free loopback port over a fresh data directory
# (an admin, a SOC lead and an analyst; a token with every scope; the
# example alerts pushed so there are cases), fetches /api/openapi.json and
# runs schemathesis three times: as the token (ingest and reads), as the
# SOC lead's browser session (approvals, notes, closing, autonomy, kill
# switch) and as the admin's (tokens, checkpoints). The checks: no answer
# is a server error, and every answer matches the document (status,
# content type and JSON schema). Any failure fails the script.
#
# schemathesis is installed into a venv under $WARDEN_CI_CACHE (default
# /var/cache/warden-ci), outside the clone, once per pinned version.
# WARDEN_SCHEMATHESIS_EXAMPLES sets the examples per operation (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
warden=${1:-${CARGO_TARGET_DIR:-target}/release/warden}
cache=${WARDEN_CI_CACHE:-/var/cache/warden-ci}
venv="$cache/schemathesis-$version"
examples=${WARDEN_SCHEMATHESIS_EXAMPLES:-100}

[ -x "$warden" ] || { echo "schemathesis.sh: no warden binary at $warden" >&2; exit 1; }
if [ ! -f "$venv/.installed" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  if ! python3 -m venv "$venv"; then
    # Debian splits venv support out of python3.
    rm -rf "$venv"
    command -v apt-get >/dev/null && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
  touch "$venv/.installed"
fi
st="$venv/bin/st"

data=$(mktemp -d)
log="$data/serve.log"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

password="schemathesis-password-$RANDOM$RANDOM"
"$warden" --data-dir "$data" init >/dev/null
for account in st-admin:admin st-lead:soc_lead st-analyst:analyst; do
  printf '%s\n' "$password" |
    "$warden" --data-dir "$data" user add "${account%%:*}" --role "${account#*:}" >/dev/null
done
token=$("$warden" --data-dir "$data" token add schemathesis \
  --scope alerts:write --scope read --scope metrics:read 2>/dev/null | grep -Eo 'wdn_[0-9a-f]{64}')

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$warden" --data-dir "$data" serve --listen "127.0.0.1:$port" --context examples/context >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$base/login" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "schemathesis.sh: warden serve died" >&2; exit 1; }
  sleep 0.2
done

auth=(-H "Authorization: Bearer $token")
for alert in examples/alerts/*.json; do
  curl -fsS -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary "@$alert" "$base/api/v1/alerts"
done
for lines in examples/alerts/*.jsonl; do
  curl -fsS -o /dev/null "${auth[@]}" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$lines" "$base/api/v1/alerts/batch"
done
schema="$data/openapi.json"
curl -fsS "${auth[@]}" "$base/api/openapi.json" >"$schema"

# A browser session: the sign-in form's double-submit cookie, the form,
# then the session's CSRF token from /api/v1/me.
session_headers() {
  local name=$1 jar="$data/$1.cookies"
  curl -fsS -o /dev/null -c "$jar" "$base/login"
  local csrf
  csrf=$(awk '$6 == "warden_login" { print $7 }' "$jar")
  curl -sS -o /dev/null -b "$jar" -c "$jar" \
    --data-urlencode "username=$name" --data-urlencode "password=$password" \
    --data-urlencode "csrf=$csrf" "$base/login"
  local session
  session=$(awk '$6 == "warden_session" { print $7 }' "$jar")
  [ -n "$session" ] || { echo "schemathesis.sh: $name could not sign in" >&2; exit 1; }
  local me
  me=$(curl -fsS -H "Cookie: warden_session=$session" "$base/api/v1/me")
  local token
  token=$(printf '%s' "$me" | python3 -c 'import json, sys; print(json.load(sys.stdin)["csrf_token"])')
  printf '%s\n%s\n' "Cookie: warden_session=$session" "X-CSRF-Token: $token"
}

failed=0
fuzz() {
  local who=$1; shift
  echo "== schemathesis as $who"
  # From inside the data directory: schemathesis keeps state in ./.schemathesis.
  (cd "$data" && "$st" run "$schema" --url "$base" "$@" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "$examples" \
    --generation-with-security-parameters false --generation-database none \
    --request-timeout 30 --workers 1 --no-color --seed 4242) ||
    failed=1
}

fuzz "a token with every scope" "${auth[@]}"
mapfile -t lead < <(session_headers st-lead)
fuzz "the SOC lead's session" -H "${lead[0]}" -H "${lead[1]}"
mapfile -t admin < <(session_headers st-admin)
fuzz "the admin's session" -H "${admin[0]}" -H "${admin[1]}"

if grep -q "panicked" "$log"; then
  echo "schemathesis.sh: the server panicked:" >&2
  grep -A5 panicked "$log" >&2
  failed=1
fi
kill "$server"
wait "$server" || { echo "schemathesis.sh: warden serve did not stop cleanly" >&2; failed=1; }
server=""
if [ "$failed" -ne 0 ]; then
  echo "schemathesis.sh: failures above" >&2
  exit 1
fi
echo "schemathesis.sh: no server errors, every answer matches the OpenAPI document"
