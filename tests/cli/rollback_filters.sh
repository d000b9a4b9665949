#!/usr/bin/env bash
# rollback_filters.sh: tidemark-rollback on a tidemark table: every filter alone and combined
# (chosen keys read from --dry-run --json), --keys FILE, the readable dry-run diff, a dry run
# writes nothing (scan and the log's last seq unchanged), --report, --on-conflict fail/skip/
# overwrite, a corrupted data file stops everything before any write, a NEW_IMAGE export and a
# full export are refused with the reason, usage errors exit 2, AWS's own incremental sample
# when ../shared/aws-samples has one (SKIP otherwise).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
now() { python3 -c 'import time; print("%.6f" % time.time())'; }
put() { tidemark put-item --table Orders --item "$1" >/dev/null; }
item() { echo "{\"pk\":{\"S\":\"$1\"},\"status\":{\"S\":\"$2\"},\"v\":{\"N\":\"$3\"}${4:-}}"; }
chosen() {  # keys of the dry run's JSON lines
  expect_exit "${EXPECT:-0}" tidemark-rollback --from "$E" --table Orders --dry-run --json "$@"
  printf '%s\n' "$OUT" | python3 -c '
import json, sys
ks = sorted(json.loads(l)["Keys"]["pk"]["S"] for l in sys.stdin if l.strip() and "RollbackSummary" not in l)
print(" ".join(ks))'
}
state() { tidemark scan --table Orders | sort; }
lastseq() { tidemark log list --table Orders | tail -1; }

tidemark create-table --table Orders --key pk:S >/dev/null
tidemark pitr enable --table Orders >/dev/null
for i in 01 02 03 04 05 06 07 08 09 10; do item "u$i" ok 1; done >"$W/base.jsonl"
for i in 1 2 3; do item "d$i" ok 1; done >>"$W/base.jsonl"
tidemark batch-write --table Orders --file "$W/base.jsonl" >/dev/null 2>&1
state >"$W/before"
sleep 0.05; t0=$(now); sleep 0.05
for i in 01 02 03 04 05; do item "u$i" bad 2 ',"batch":{"S":"b1"}'; done | tidemark batch-write --table Orders --file - >/dev/null 2>&1
sleep 0.05; tm=$(now); sleep 0.05
for i in 06 07 08 09 10; do item "u$i" bad 2 ',"batch":{"S":"b2"}'; done | tidemark batch-write --table Orders --file - >/dev/null 2>&1
for i in 1 2 3 4; do put "$(item "n$i" bad 2)"; done
for i in 1 2 3; do tidemark delete-item --table Orders --key "{\"pk\":{\"S\":\"d$i\"}}" >/dev/null; done
sleep 0.05; t1=$(now)
expect_exit 0 tidemark-export --table Orders --to "$W/exp" --incremental --from "$t0" --until "$t1"
E=$OUT
state >"$W/bad"

# 1. each filter alone, then combined
assert_eq "d1 d2 d3 n1 n2 n3 n4 u01 u02 u03 u04 u05 u06 u07 u08 u09 u10" "$(chosen)" "no filter"
assert_eq "n1 u01" "$(chosen --key-values u01,n1)" "--key-values"
printf 'u02\nd1\n\n' >"$W/keys.txt"
assert_eq "d1 u02" "$(chosen --keys "$W/keys.txt")" "--keys FILE"
assert_eq "u01 u02 u03 u04 u05 u06 u07 u08 u09 u10" "$(chosen --key-prefix u)" "--key-prefix"
assert_eq "u01 u02 u03 u04 u05" "$(chosen --until "$tm")" "--until"
assert_eq "d1 d2 d3 n1 n2 n3 n4 u06 u07 u08 u09 u10" "$(chosen --since "$tm")" "--since"
assert_eq "u01 u02 u03 u04 u05" "$(chosen --condition 'batch = :b' --values '{":b":{"S":"b1"}}')" "--condition"
assert_eq "d1 d2 d3" "$(chosen --condition 'attribute_not_exists(pk)')" "--condition on a delete"
assert_eq "u06 u07 u08 u09 u10" "$(chosen --key-prefix u --since "$tm" --condition '#v = :v' \
  --names '{"#v":"v"}' --values '{":v":{"N":"2"}}')" "prefix + since + condition"
assert_eq "u07" "$(chosen --key-values u07,n1 --key-prefix u --since "$tm" --until "$t1")" "values + prefix + window"
assert_eq "" "$(chosen --key-values zz)" "no match"

# 2. the dry run: a readable diff, nothing written
seq0=$(lastseq)
expect_exit 0 tidemark-rollback --from "$E" --table Orders -n --key-values u01,n1,d1
assert_contains "$OUT" '{"pk":{"S":"u01"}} would restore'
assert_contains "$OUT" '  status: {"S":"bad"} -> {"S":"ok"}'
assert_contains "$OUT" '  batch: {"S":"b1"} -> (absent)'
assert_contains "$OUT" '{"pk":{"S":"n1"}} would delete'
assert_contains "$OUT" '{"pk":{"S":"d1"}} would restore'
assert_contains "$OUT" '  v: (absent) -> {"N":"1"}'
assert_contains "$ERR" "dry run (nothing written)"
expect_exit 0 tidemark-rollback --from "$E" --table Orders -n --report "$W/dry.jsonl"
[ "$(grep -c '"DryRun":true' "$W/dry.jsonl")" = 18 ] || fail "--report of a dry run: $(cat "$W/dry.jsonl")"
assert_eq "$seq0" "$(lastseq)" "the log's last seq after dry runs"
state | cmp -s - "$W/bad" || fail "a dry run changed the table"

# 3. a corrupted data file stops everything before any write
cp -a "$W/exp" "$W/damaged"
f=$(ls "$W"/damaged/AWSDynamoDB/data/*.json.gz | head -1)
printf 'X' | dd of="$f" bs=1 seek=30 conv=notrunc 2>/dev/null
expect_exit 1 tidemark-rollback --from "$W/damaged/AWSDynamoDB/$(basename "$E")" --table Orders
assert_contains "$ERR" "md5Checksum"
assert_eq "$seq0" "$(lastseq)" "the log after a damaged export"
state | cmp -s - "$W/bad" || fail "a damaged export changed the table"

# 4. refused exports, usage errors
expect_exit 0 tidemark-export --table Orders --to "$W/newimg" --incremental --from "$t0" --until "$t1" --view NEW_IMAGE
expect_exit 1 tidemark-rollback --from "$OUT" --table Orders
assert_contains "$ERR" "outputView NEW_IMAGE: its records carry no OldImage"
expect_exit 0 tidemark-export --table Orders --to "$W/full"
expect_exit 1 tidemark-rollback --from "$OUT" --table Orders
assert_contains "$ERR" "is a full export"
expect_exit 2 tidemark-rollback --table Orders
assert_contains "$ERR" "--from is required"
expect_exit 2 tidemark-rollback --from "$E" --table Orders --on-conflict never
expect_exit 2 tidemark-rollback --from "$E" --table Orders --condition 'status = '
assert_contains "$ERR" "ConditionExpression"
expect_exit 2 tidemark-rollback --from "$E" --table Orders --jobs 0
expect_exit 2 tidemark-rollback --from "$E" --table Orders --since yesterday
expect_exit 2 tidemark-rollback --from "$E" --table Orders --tabel Orders
assert_contains "$ERR" "did you mean '--table'"
expect_exit 1 tidemark-rollback --from "$E" --table Nowhere
expect_exit 1 tidemark-rollback --from "$W/none" --table Orders
assert_eq "$seq0" "$(lastseq)" "the log after refused runs"

# 5. filters for real: only the n items go
expect_exit 0 tidemark-rollback --from "$E" --table Orders --key-prefix n
assert_contains "$ERR" "4 of 17 records chosen: 0 restored, 4 deleted"
[ -z "$(tidemark scan --table Orders | grep '"n[0-9]"')" ] || fail "n items left"
[ "$(tidemark scan --table Orders | wc -l)" = 10 ] || fail "other items touched"

# 6. a write after the window: fail writes nothing, skip leaves it, overwrite writes it
put "$(item u01 fixed 7)"
seq1=$(lastseq)
expect_exit 3 tidemark-rollback --from "$E" --table Orders --on-conflict fail
assert_contains "$OUT" '{"pk":{"S":"u01"}} CONFLICT (written after the window): left alone'
assert_contains "$OUT" '  current: {"pk":{"S":"u01"},"status":{"S":"fixed"},"v":{"N":"7"}}'
assert_contains "$ERR" "nothing was written (--on-conflict fail)"
assert_eq "$seq1" "$(lastseq)" "the log after --on-conflict fail"
expect_exit 3 tidemark-rollback --from "$E" --table Orders --report "$W/run.jsonl"
assert_contains "$(grep '"u01"' "$W/run.jsonl")" '"Action":"CONFLICT"'
assert_contains "$(tail -1 "$W/run.jsonl")" '"Conflicts":1'
assert_contains "$(tidemark get-item --table Orders --key '{"pk":{"S":"u01"}}')" '"fixed"'
grep -v '"u01"' "$W/before" >"$W/want"
state | grep -v '"u01"' | cmp -s - "$W/want" || fail "the rollback did not give the state before the window"
# a re-run: nothing to do, same conflict
seq2=$(lastseq)
expect_exit 3 tidemark-rollback --from "$E" --table Orders
assert_contains "$ERR" "0 restored, 0 deleted, 16 already rolled back, 1 conflicts left alone"
assert_eq "$seq2" "$(lastseq)" "the log after a re-run"
expect_exit 0 tidemark-rollback --from "$E" --table Orders --on-conflict overwrite --key-values u01
assert_contains "$OUT" "overwritten"
state | cmp -s - "$W/before" || fail "overwrite did not restore u01"

# 7. AWS's own incremental export, when the reference data has one
sample=$(find "$TM_ROOT/../shared/aws-samples" -name manifest-summary.json -exec grep -l INCREMENTAL_EXPORT {} + 2>/dev/null | head -1 || true)
if [ -n "$sample" ]; then
  echo "rollback_filters: AWS incremental sample $(dirname "$sample")"
  expect_exit 0 tidemark-rollback --from "$(dirname "$sample")" --table Orders --dry-run --json --key-values none-such
else
  echo "SKIP: no AWS incremental export in ../shared/aws-samples"
fi
echo "rollback_filters: ok"
