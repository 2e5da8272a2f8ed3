#!/usr/bin/env bash
# Replays the scenarios listed in test/conformance-expected.txt against
# `node dist/cli.js`; every listed scenario must score PASS (or DIFF, for the
# steps listed with reasons in test/conformance-differences.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${QMPD_SHARED:-../shared}"
mapfile -t names < <(grep -v '^\s*#' test/conformance-expected.txt | sed 's/\s.*//' | grep -v '^$')
args=()
for n in "${names[@]}"; do args+=(-k "$n"); done
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
python3 "$shared/conformance/qmpcheck.py" --daemon 'node dist/cli.js' \
  --allow-diff test/conformance-differences.txt --json-report "$report" \
  "${args[@]}" "$shared/conformance/scenarios" || true
python3 - "$report" "${names[@]}" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
status = {s["name"]: s["status"] for s in report["scenarios"]}
# a listed difference that is still class-level scores PASS~: fine only where a difference is listed
with open("test/conformance-differences.txt") as fh:
    differing = {l.split()[0] for l in fh if l.strip() and not l.lstrip().startswith("#")}
ok = lambda n: status.get(n) in ("PASS", "DIFF") or (status.get(n) == "PASS~" and n in differing)
bad = [(n, status.get(n, "MISSING")) for n in sys.argv[2:] if not ok(n)]
for n, st in bad:
    print(f"conformance: {n} scored {st}", file=sys.stderr)
print(f"conformance: {len(sys.argv) - 2 - len(bad)}/{len(sys.argv) - 2} listed scenarios pass")
sys.exit(1 if bad else 0)
PY
