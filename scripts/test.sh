#!/usr/bin/env bash
# test.sh - install what is missing, build, run every test (meson test).
# Usage: scripts/test.sh [extra meson test args]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
modprobe fuse 2>/dev/null || true

build=${TLK_BUILD_DIR:-build}
if [ -d "$build" ]; then meson setup --reconfigure "$build" >/dev/null
else meson setup "$build" >/dev/null; fi
meson compile -C "$build"

status=0
meson test -C "$build" --print-errorlogs "$@" || status=$?

# The plain closing line: counts from meson's own log.
log="$build/meson-logs/testlog.json"
if [ -f "$log" ]; then
	python3 - "$log" <<'PY'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    counts[r["result"]] = counts.get(r["result"], 0) + 1
ok = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
bad = sum(v for k, v in counts.items() if k not in ("OK", "EXPECTEDFAIL", "SKIP"))
print(f"{ok} passed, {bad} failed, {counts.get('SKIP', 0)} skipped")
PY
fi
exit $status
