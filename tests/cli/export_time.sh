#!/usr/bin/env bash
# export_time.sh: time travel with TIDEMARK_CLOCK. Writes at known seconds; full exports at past
# seconds equal the state then (the scan taken right after that second's writes); incremental
# windows with inserts, updates, deletes, insert+delete inside the window (no record),
# delete+re-insert (an update), many changes to one key: exact records; NEW_IMAGE; empty
# window; windows outside the PITR window; the grouping spilled to disk gives the same answer.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
PY=/usr/bin/python3
RX="$TM_ROOT/tests/export/read_export.py"
make_home
work=$TM_HOME/work
mkdir -p "$work"
at() { local t=$1; shift; TIDEMARK_CLOCK="2025-11-12T10:$t" "$@"; }
item() { printf '{"pk":{"S":"%s"},"sk":{"S":"x"},"v":{"N":"%s"}}' "$1" "$2"; }
key() { printf '{"pk":{"S":"%s"},"sk":{"S":"x"}}' "$1"; }

at 00:00Z tidemark create-table --table Ttt --key pk:S --sort-key sk:S >/dev/null
at 00:00Z tidemark pitr enable --table Ttt >/dev/null
# Second 10: the base state.
for k in upd del rein many same stay; do at 00:10Z tidemark put-item --table Ttt --item "$(item $k 1)" >/dev/null; done
at 00:10.5Z tidemark scan --table Ttt | "$PY" "$RX" lines >"$work/state10"
# Seconds 20..29: the window under test.
at 00:20Z tidemark put-item --table Ttt --item "$(item upd 2)" >/dev/null
at 00:21Z tidemark put-item --table Ttt --item "$(item ins 1)" >/dev/null
at 00:22Z tidemark delete-item --table Ttt --key "$(key del)" >/dev/null
at 00:23Z tidemark put-item --table Ttt --item "$(item insdel 1)" >/dev/null
at 00:24Z tidemark delete-item --table Ttt --key "$(key insdel)" >/dev/null
at 00:25Z tidemark delete-item --table Ttt --key "$(key rein)" >/dev/null
at 00:26Z tidemark put-item --table Ttt --item "$(item rein 2)" >/dev/null
for i in $(seq 2 12); do
  at "00:27.$(printf %02d "$i")Z" tidemark update-item --table Ttt --key "$(key many)" \
    --update-expression 'SET v = :v' --expression-attribute-values "{\":v\":{\"N\":\"$i\"}}" >/dev/null
done
at 00:28Z tidemark delete-item --table Ttt --key "$(key same)" >/dev/null
at 00:29Z tidemark put-item --table Ttt --item "$(item same 1)" >/dev/null
at 00:29.5Z tidemark scan --table Ttt | "$PY" "$RX" lines >"$work/state29"
# Second 30: after the window.
at 00:30Z tidemark put-item --table Ttt --item "$(item upd 3)" >/dev/null
at 00:30Z tidemark delete-item --table Ttt --key "$(key stay)" >/dev/null
at 00:30.5Z tidemark scan --table Ttt | "$PY" "$RX" lines >"$work/state30"

export TIDEMARK_CLOCK=2025-11-12T10:05:00Z
dest=$work/dest

# Full exports at past seconds equal the state then.
for s in 10 29 30; do
  expect_exit 0 tidemark-export --table Ttt --to "$dest" --time "2025-11-12T10:00:$s.9Z"
  "$PY" "$RX" export "$OUT" >"$work/got" || fail "read_export at $s"
  cmp -s "$work/state$s" "$work/got" || { diff "$work/state$s" "$work/got"; fail "state at second $s"; }
  "$PY" "$RX" summary "$OUT" | grep -qx "exportTime=2025-11-12T10:00:$s.900Z" || fail "exportTime $s"
done
# One µs before the window's first write: still the base state.
expect_exit 0 tidemark-export --table Ttt --to "$dest" --time 2025-11-12T10:00:19.999999Z
"$PY" "$RX" export "$OUT" >"$work/got"
cmp -s "$work/state10" "$work/got" || fail "state just before second 20"

# Incremental [20, 30): exact records, in key-hash order, so compared sorted.
W="--from 2025-11-12T10:00:20Z --until 2025-11-12T10:00:30Z"
# shellcheck disable=SC2086
expect_exit 0 tidemark-export --table Ttt --to "$dest" --incremental $W
inc=$OUT
assert_contains "$ERR" "6 records"
"$PY" "$RX" export "$inc" >"$work/got" || fail "read_export incremental"
us() { "$PY" -c "import datetime as d; print(int((d.datetime.fromisoformat('2025-11-12T10:00:$1+00:00') - d.datetime(1970,1,1,tzinfo=d.timezone.utc)).total_seconds()*1000000))"; }
md() { printf '{"Metadata":{"WriteTimestampMicros":{"N":"%s"}},"Keys":%s' "$(us "$1")" "$(key "$2")"; }
{
  printf '%s,"OldImage":%s,"NewImage":%s}\n' "$(md 20 upd)" "$(item upd 1)" "$(item upd 2)"
  printf '%s,"NewImage":%s}\n' "$(md 21 ins)" "$(item ins 1)"
  printf '%s,"OldImage":%s}\n' "$(md 22 del)" "$(item del 1)"
  printf '%s,"OldImage":%s,"NewImage":%s}\n' "$(md 26 rein)" "$(item rein 1)" "$(item rein 2)"
  printf '%s,"OldImage":%s,"NewImage":%s}\n' "$(md 27.12 many)" "$(item many 1)" "$(item many 12)"
  printf '%s,"OldImage":%s,"NewImage":%s}\n' "$(md 29 same)" "$(item same 1)" "$(item same 1)"
} | sort >"$work/want"
cmp -s "$work/want" "$work/got" || { diff "$work/want" "$work/got"; fail "incremental records"; }
"$PY" "$RX" summary "$inc" | grep -qx 'exportFromTime=2025-11-12T10:00:20.000Z' || fail "exportFromTime"
"$PY" "$RX" summary "$inc" | grep -qx 'outputView=NEW_AND_OLD_IMAGES' || fail "outputView"
grep -q '"dataFileS3Key":"AWSDynamoDB/data/' "$inc/manifest-files.json" || fail "shared data folder"
expect_exit 0 tidemark-export verify "$inc"
TZ=UTC expect_exit 0 tidemark-export describe --json "$inc"
assert_contains "$(jc "$OUT")" '"IncrementalExportSpecification":{"ExportFromTime":"2025-11-12T10:00:20+00:00","ExportToTime":"2025-11-12T10:00:30+00:00","ExportViewType":"NEW_AND_OLD_IMAGES"}'

# The same window with the grouping forced to spill (hidden option and environment knob).
# shellcheck disable=SC2086
expect_exit 0 tidemark-export --table Ttt --to "$dest" --incremental $W --netchange-mem 1
"$PY" "$RX" export "$OUT" >"$work/got2"
cmp -s "$work/got" "$work/got2" || fail "spilled grouping differs"
# shellcheck disable=SC2086
TIDEMARK_NETCHANGE_MEM=1 expect_exit 0 tidemark-export --table Ttt --to "$dest" --incremental $W
"$PY" "$RX" export "$OUT" >"$work/got2"
cmp -s "$work/got" "$work/got2" || fail "spilled grouping (env) differs"

# NEW_IMAGE: no OldImage; the delete is Metadata + Keys.
# shellcheck disable=SC2086
expect_exit 0 tidemark-export --table Ttt --to "$dest" --incremental $W --view NEW_IMAGE
"$PY" "$RX" export "$OUT" >"$work/got"
grep -q OldImage "$work/got" && fail "OldImage in a NEW_IMAGE export"
grep -qx "$(md 22 del)}" "$work/got" || fail "NEW_IMAGE delete record"
[ "$(wc -l <"$work/got")" -eq 6 ] || fail "NEW_IMAGE record count"
"$PY" "$RX" summary "$OUT" | grep -qx 'outputView=NEW_IMAGE' || fail "outputView NEW_IMAGE"

# An empty window: a valid export of 0 records (one empty 20-byte gzip).
expect_exit 0 tidemark-export --table Ttt --to "$dest" --incremental --from 2025-11-12T10:00:40Z --until 2025-11-12T10:01:00Z
"$PY" "$RX" export "$OUT" >"$work/got"
[ ! -s "$work/got" ] || fail "empty window has records"
"$PY" "$RX" summary "$OUT" | grep -qx 'itemCount=0' || fail "empty window itemCount"
expect_exit 0 tidemark-export verify "$OUT"
# Until defaults to now: [30, now) holds the second-30 writes.
expect_exit 0 tidemark-export --table Ttt --to "$dest" --incremental --from 2025-11-12T10:00:30Z
"$PY" "$RX" summary "$OUT" | grep -qx 'itemCount=2' || fail "--until defaults to now"
"$PY" "$RX" summary "$OUT" | grep -qx 'exportToTime=2025-11-12T10:05:00.000Z' || fail "exportToTime now"

# Outside the PITR window: clear errors, exit 1, nothing complete left.
n_before=$(ls "$dest/AWSDynamoDB" | wc -l)
expect_exit 1 tidemark-export --table Ttt --to "$dest" --incremental --from 2025-11-12T09:00:00Z
assert_contains "$ERR" "before the earliest restorable time"
expect_exit 1 tidemark-export --table Ttt --to "$dest" --incremental --from 2025-11-12T10:00:20Z --until 2025-11-12T11:00:00Z
assert_contains "$ERR" "in the future"
expect_exit 1 tidemark-export --table Ttt --to "$dest" --time 2025-11-12T09:00:00Z
assert_contains "$ERR" "outside the point-in-time window"
expect_exit 2 tidemark-export --table Ttt --to "$dest" --incremental --from 2025-11-12T10:00:30Z --until 2025-11-12T10:00:20Z
[ "$(ls "$dest/AWSDynamoDB" | wc -l)" -eq "$n_before" ] || fail "a failed export left files"
echo "export_time: ok"
