#!/usr/bin/env bash
# Browser tests of the web UI: a real `warden serve` on a fresh data
# directory, with people, an API token and the example alerts pushed over
# HTTP, driven in headless Chromium (Debian's package) by playwright-core.
# Usage: tests/browser/run.sh [path/to/warden]   (default: target/release/warden)
# Screenshots land in $WARDEN_SCREENSHOTS (default tests/browser/screenshots).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
warden=${1:-${CARGO_TARGET_DIR:-$repo/target}/release/warden}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$warden" ] || { echo "browser: no warden binary at $warden" >&2; exit 1; }
[ -x "$chromium" ] || { echo "browser: no Chromium at $chromium (apt-get install chromium)" >&2; exit 1; }

cd "$here"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund

data=$(mktemp -d)
log="$data/serve.log"
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

"$warden" --data-dir "$data" init > /dev/null
# An operator's policy change: blocking an indicator takes two people.
python3 - "$repo/crates/warden-policy/policies/default" "$data/two-person.cedar" <<'PY'
import pathlib, sys
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
text = "\n".join(p.read_text() for p in sorted(src.glob("*.cedar")))
marker = '@id("default.net.block-indicator")\n@description("Block an IP, domain or URL on a threat called at 70% confidence or more, once a responder approved.")\n@approvals("1")'
assert marker in text, "the block-indicator policy changed; update this script"
text = text.replace(marker, marker.replace('@approvals("1")', '@approvals("2")'))
out.write_text(text)
PY
sed -i 's/^\[policy\]$/[policy]\npolicies = "two-person.cedar"/' "$data/warden.toml"
grep -q '^policies = "two-person.cedar"' "$data/warden.toml" || { echo "browser: cannot set [policy] policies" >&2; exit 1; }

export WARDEN_PASSWORD_ALICE="alice-correct-horse-1" WARDEN_PASSWORD_BOB="bob-battery-staple-2" \
       WARDEN_PASSWORD_CAROL="carol-lead-pass-3" WARDEN_PASSWORD_DAVE="dave-viewer-pass-4"
echo "$WARDEN_PASSWORD_ALICE" | "$warden" --data-dir "$data" user add alice --role analyst
echo "$WARDEN_PASSWORD_BOB" | "$warden" --data-dir "$data" user add bob --role analyst
echo "$WARDEN_PASSWORD_CAROL" | "$warden" --data-dir "$data" user add carol --role soc_lead
echo "$WARDEN_PASSWORD_DAVE" | "$warden" --data-dir "$data" user add dave --role viewer
token=$("$warden" --data-dir "$data" token add browser-test-siem --scope alerts:write 2>/dev/null)

"$warden" --data-dir "$data" serve --listen 127.0.0.1:0 --context "$repo/examples/context" > "$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "serving on" "$log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
[ -n "$url" ] || { cat "$log" >&2; echo "browser: the server did not start" >&2; exit 1; }

for file in "$repo"/examples/alerts/*; do
  case "$file" in
    *.jsonl) endpoint=alerts/batch; type=application/x-ndjson ;;
    *) endpoint=alerts; type=application/json ;;
  esac
  curl -sf -X POST -H "Authorization: Bearer $token" -H "Content-Type: $type" \
    --data-binary @"$file" "$url/api/v1/$endpoint" > /dev/null
done

export WARDEN_URL="$url" CHROMIUM="$chromium"
export WARDEN_SCREENSHOTS="${WARDEN_SCREENSHOTS:-$here/screenshots}"
mkdir -p "$WARDEN_SCREENSHOTS"
node --test --test-concurrency=1 --test-reporter=spec ui.test.mjs
echo "browser: screenshots in $WARDEN_SCREENSHOTS"
