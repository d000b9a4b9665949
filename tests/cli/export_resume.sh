#!/usr/bin/env bash
# export_resume.sh: kill -9 an export in the middle (TIDEMARK_EXPORT_DELAY_MS slows its writer
# so the kill lands mid-way for sure): no manifest-summary.json, describe says FAILED, verify
# fails; --resume finishes it keeping the finished partitions' files; verify passes; the content
# is the table's at the export's moment even though writes went on meanwhile (PITR rebuilds it).
# Then the same for an incremental export.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
RX="$TM_ROOT/tests/export/read_export.py"
GEN="$TM_ROOT/tests/export/gen_items.py"
make_home
work=$TM_HOME/work
mkdir -p "$work"

tidemark create-table --table Big --key pk:S --sort-key sk:N >/dev/null
tidemark pitr enable --table Big >/dev/null
t_enabled=$("$PY" -c 'import time; print("%.6f" % (time.time() + 0.001))')
"$PY" "$GEN" 3000 >"$work/items.jsonl"
tidemark batch-write --table Big --file "$work/items.jsonl" >/dev/null 2>&1
tidemark scan --table Big | "$PY" "$RX" lines >"$work/want"
sleep 1.1

# Start, wait until the state file lists a finished partition, kill -9.
TIDEMARK_EXPORT_DELAY_MS=40 tidemark-export --table Big --to "$work/dest" --jobs 4 \
  --max-file-size 8K >"$work/out" 2>"$work/err" &
pid=$!
state=""
for _ in $(seq 1 300); do
  state=$(ls "$work"/dest/AWSDynamoDB/*/tidemark-export-state.json 2>/dev/null | head -1 || true)
  if [ -n "$state" ] && grep -q '"partitionsDone":\[[0-9]' "$state"; then break; fi
  sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ -n "$state" ] || fail "no state file appeared"
dir=$(dirname "$state")
grep -q '"partitionsDone":\[[0-9]' "$state" || fail "no partition finished before the kill"
[ ! -e "$dir/manifest-summary.json" ] || fail "a killed export has a summary"
[ -e "$dir/_started" ] || fail "no _started"
kept=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"][0]["key"])' "$state")
ino_before=$(stat -c %i "$work/dest/$kept")

expect_exit 0 tidemark-export describe "$dir"
assert_contains "$OUT" "Status:          FAILED"
assert_contains "$OUT" "interrupted"
expect_exit 0 tidemark-export describe --json "$dir"
assert_contains "$OUT" '"ExportStatus":"FAILED"'
expect_exit 1 tidemark-export verify "$dir"
assert_contains "$OUT" "manifest-summary.json: missing"
expect_exit 0 tidemark-export list "$work/dest"
assert_contains "$OUT" "FAILED"

# Writes go on before the resume: the export must still show the moment it started at.
tidemark put-item --table Big --item '{"pk":{"S":"late"},"sk":{"N":"1"}}' >/dev/null
tidemark delete-item --table Big --key '{"pk":{"S":"u00-\u00e9\"q\\0"},"sk":{"N":"0"}}' >/dev/null

expect_exit 0 tidemark-export --resume "$dir" --jobs 2
assert_eq "$dir" "$OUT" "resume prints the directory"
[ -e "$dir/manifest-summary.json" ] || fail "no summary after resume"
[ ! -e "$dir/tidemark-export-state.json" ] || fail "state file left after completion"
[ "$(stat -c %i "$work/dest/$kept")" = "$ino_before" ] || fail "a finished file was rewritten"
expect_exit 0 tidemark-export verify "$dir"
"$PY" "$RX" export "$dir" >"$work/got"
cmp -s "$work/want" "$work/got" || fail "resumed export differs from the table at its moment"
expect_exit 0 tidemark-export describe "$dir"
assert_contains "$OUT" "Status:          COMPLETED"
# Resuming a complete export changes nothing and succeeds.
expect_exit 0 tidemark-export --resume "$dir"
expect_exit 2 tidemark-export --resume "$dir" --table Big
expect_exit 1 tidemark-export --resume "$work/dest/AWSDynamoDB/01000000000000-00000000"

# An incremental export killed and resumed: same records as an uninterrupted one.
from=$t_enabled
until=$("$PY" -c "import time; print(int(time.time()))")
sleep 1
expect_exit 0 tidemark-export --table Big --to "$work/inc-ref" --incremental --from "$from" --until "$until"
"$PY" "$RX" export "$OUT" >"$work/inc-want"
TIDEMARK_EXPORT_DELAY_MS=40 tidemark-export --table Big --to "$work/inc" --incremental \
  --from "$from" --until "$until" --max-file-size 8K >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  state=$(ls "$work"/inc/AWSDynamoDB/*/tidemark-export-state.json 2>/dev/null | head -1 || true)
  [ -n "$state" ] && break
  sleep 0.05
done
sleep 0.5   # one partition here (a small window): kill while its files are being written
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
idir=$(dirname "$state")
[ ! -e "$idir/manifest-summary.json" ] || fail "a killed incremental export has a summary"
expect_exit 0 tidemark-export --resume "$idir"
expect_exit 0 tidemark-export verify "$idir"
"$PY" "$RX" export "$idir" >"$work/inc-got"
cmp -s "$work/inc-want" "$work/inc-got" || fail "resumed incremental differs"
echo "export_resume: ok"
