#!/usr/bin/env bash
# export_resume.sh: kill -9 an export in the middle (TIDEMARK_EXPORT_DELAY_MS slows its writer
# so the kill lands mid-way for sure): no manifest-summary.json, describe says FAILED, verify
# fails; --resume finishes it keeping the finished partitions' files; verify passes; the content
# is the table's at the export's moment even though writes went on meanwhile (PITR rebuilds it).
# Then the same for an incremental export. Then a resume after writes is rebuilt at the
# export's ExportTime for a table filled by an import and for one whose last write predates PITR
# (both used to be refused with wrong reasons), and refused, saying why, when PITR cannot.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
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

# kill_mid TABLE DEST [ARGS]: start a full export, wait until the state file lists a finished
# partition, kill -9; the state file in $state, the export's directory in $dir.
kill_mid() {
  local p
  state=""
  TIDEMARK_EXPORT_DELAY_MS=40 tidemark-export --table "$1" --to "$2" --jobs 4 --max-file-size 8K \
    "${@:3}" >/dev/null 2>&1 &
  p=$!
  for _ in $(seq 1 300); do
    state=$(ls "$2"/AWSDynamoDB/*/tidemark-export-state.json 2>/dev/null | head -1 || true)
    if [ -n "$state" ] && grep -q '"partitionsDone":\[[0-9]' "$state"; then break; fi
    sleep 0.05
  done
  kill -9 "$p"
  wait "$p" 2>/dev/null || true
  [ -n "$state" ] || fail "no state file appeared under $2"
  dir=$(dirname "$state")
}
kill_mid Big "$work/dest"
grep -q '"partitionsDone":\[[0-9]' "$state" || fail "no partition finished before the kill"
[ ! -e "$dir/manifest-summary.json" ] || fail "a killed export has a summary"
[ -e "$dir/_started" ] || fail "no _started"
kept=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"][0]["key"])' "$state")
ino_before=$(stat -c %i "$work/dest/$kept")

expect_exit 0 tidemark-export describe "$dir"
assert_contains "$OUT" "Status:          FAILED"
assert_contains "$OUT" "interrupted"
expect_exit 0 tidemark-export describe --json "$dir"
assert_contains "$(jc "$OUT")" '"ExportStatus":"FAILED"'
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
# Resume at the export's moment (its ExportTime), whatever the table's history before it.
late_writes() {
  tidemark put-item --table "$1" --item '{"pk":{"S":"late"},"sk":{"N":"1"}}' >/dev/null
  tidemark delete-item --table "$1" --key '{"pk":{"S":"u01-\u00e9\"q\\1"},"sk":{"N":"1"}}' >/dev/null
}
resumed_is() {  # dir want
  expect_exit 0 tidemark-export --resume "$1" --jobs 2
  expect_exit 0 tidemark-export verify "$1"
  "$PY" "$RX" export "$1" >"$work/got"
  cmp -s "$2" "$work/got" || fail "resumed export $1 differs from the table at its moment"
}
# A table filled by tidemark-import (no log history: its log starts at seq 0 with the items).
tidemark-import --from "$work/items.jsonl" --table Imp --key pk:S --sort-key sk:N >/dev/null 2>&1
tidemark scan --table Imp | "$PY" "$RX" lines >"$work/want-imp"
# Without PITR the moment cannot be rebuilt once the table moved on: refused, saying why.
kill_mid Imp "$work/imp-nopitr"
late_writes Imp
expect_exit 1 tidemark-export --resume "$dir"
assert_contains "$ERR" "point-in-time recovery is not enabled, so that moment cannot be rebuilt"
# Enabled only now, after the export's moment: still refused, with that reason.
tidemark pitr enable --table Imp >/dev/null
expect_exit 1 tidemark-export --resume "$dir"
assert_contains "$ERR" "point-in-time recovery was enabled only at"
# Imported, PITR enabled, export killed, new writes: resumed at its moment.
tidemark-import --from "$work/items.jsonl" --table Imp2 --key pk:S --sort-key sk:N >/dev/null 2>&1
tidemark pitr enable --table Imp2 >/dev/null
kill_mid Imp2 "$work/imp"
late_writes Imp2
resumed_is "$dir" "$work/want-imp"
# Written, then PITR enabled (the last write predates the window), export killed, new writes.
tidemark create-table --table Early --key pk:S --sort-key sk:N >/dev/null
tidemark batch-write --table Early --file "$work/items.jsonl" >/dev/null 2>&1
tidemark scan --table Early | "$PY" "$RX" lines >"$work/want-early"
sleep 0.2
tidemark pitr enable --table Early >/dev/null
kill_mid Early "$work/early"
late_writes Early
resumed_is "$dir" "$work/want-early"
# Resumed after the export's moment left the recovery period: refused, saying so (test clock).
export TIDEMARK_CLOCK=2025-11-12T10:00:00Z
tidemark create-table --table Old --key pk:S --sort-key sk:N >/dev/null
tidemark pitr enable --table Old --recovery-period-in-days 1 >/dev/null
TIDEMARK_CLOCK=2025-11-12T10:00:01Z tidemark batch-write --table Old --file "$work/items.jsonl" \
  >/dev/null 2>&1
TIDEMARK_CLOCK=2025-11-12T10:00:10Z kill_mid Old "$work/old"
export TIDEMARK_CLOCK=2025-11-14T10:00:00Z
late_writes Old
expect_exit 1 tidemark-export --resume "$dir"
assert_contains "$ERR" "that moment has left the recovery period of 1 days (the window starts at 2025-11-13T10:00:00"
unset TIDEMARK_CLOCK
# An export with --time whose moment PITR no longer holds (disabled since): refused as such, not
# with the advice to omit --time that a new export gets.
t_early=$("$PY" -c "import time; print(int(time.time()))")
sleep 1
late_writes Early
kill_mid Early "$work/early-timed" --time "$t_early"
tidemark pitr disable --table Early >/dev/null
expect_exit 1 tidemark-export --resume "$dir"
assert_contains "$ERR" "cannot resume: the export is of table Early at "
assert_contains "$ERR" "and point-in-time recovery is not enabled, so that moment cannot be rebuilt"
echo "export_resume: ok"
