#!/usr/bin/env bash
# rollback_endpoint.sh: tidemark-rollback against a DynamoDB-API endpoint (dynalite, npm,
# started here on 127.0.0.1 on a free port and stopped by its PID). A tidemark table's history
# gives the export; dynalite is seeded with the table's state after the bad load plus a
# legitimate write after it; the rollback over the endpoint (conditional writes, 8 connections)
# gives the state before the load and leaves the later write alone as a conflict; a re-run is a
# no-op; the dry run writes nothing; and a writer racing the rollback on the export's keys
# never has a write overwritten. SKIP without dynalite or boto3.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
PYE="$TM_ROOT/tests/cli/rollback_endpoint.py"
has_dynalite || { echo "SKIP: dynalite not installed (make deps)"; exit 0; }
python3 -c 'import boto3' 2>/dev/null || { echo "SKIP: python3-boto3 not installed"; exit 0; }
aws_env AKIDROLLBACK secret
start_dynalite "$W/dynalite.log" --createTableMs 10
URL=$DYN_URL
now() { python3 -c 'import time; print("%.6f" % time.time())'; }
dump() { python3 "$PYE" dump "$URL" "$1"; }

# the history on tidemark: 60 items, a bad load (40 updates, 10 inserts, 5 deletes), the export
tidemark create-table --table Src --key pk:S >/dev/null
tidemark pitr enable --table Src >/dev/null
for i in $(seq -w 1 60); do echo "{\"pk\":{\"S\":\"k$i\"},\"v\":{\"N\":\"$i\"},\"m\":{\"M\":{\"a\":{\"L\":[{\"S\":\"x\"}]}}}}"; done >"$W/base.jsonl"
tidemark batch-write --table Src --file "$W/base.jsonl" >/dev/null 2>&1
tidemark scan --table Src | sort >"$W/before"
sleep 0.05; t0=$(now); sleep 0.05
{ for i in $(seq -w 1 40); do echo "{\"pk\":{\"S\":\"k$i\"},\"v\":{\"N\":\"-1\"},\"bad\":{\"BOOL\":true}}"; done
  for i in $(seq -w 1 10); do echo "{\"pk\":{\"S\":\"new$i\"},\"v\":{\"N\":\"-1\"}}"; done; } |
  tidemark batch-write --table Src --file - >/dev/null 2>&1
for i in 51 52 53 54 55; do tidemark delete-item --table Src --key "{\"pk\":{\"S\":\"k$i\"}}" >/dev/null; done
sleep 0.05; t1=$(now)
expect_exit 0 tidemark-export --table Src --to "$W/exp" --incremental --from "$t0" --until "$t1"
E=$OUT
tidemark scan --table Src >"$W/bad.jsonl"

# 1. the same scenario on dynalite, with a legitimate write after the load (k01)
python3 "$PYE" seed "$URL" Orders "$W/bad.jsonl"
python3 - "$URL" <<'PY'
import sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
c.put_item(TableName="Orders", Item={"pk": {"S": "k01"}, "v": {"N": "1000"}})
PY
dump Orders >"$W/d0"
expect_exit 0 tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Orders --dry-run --key-values k02,new01,k51
assert_contains "$OUT" '{"pk":{"S":"k02"}} would restore'
assert_contains "$OUT" '{"pk":{"S":"new01"}} would delete'
assert_contains "$OUT" '{"pk":{"S":"k51"}} would restore'
dump Orders | cmp -s - "$W/d0" || fail "a dry run on the endpoint wrote"
expect_exit 3 tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Orders --jobs 8 --report "$W/r1.jsonl"
assert_contains "$ERR" "55 of 55 records chosen: 44 restored, 10 deleted, 0 already rolled back, 1 conflicts left alone"
assert_contains "$OUT" '  current: {"pk":{"S":"k01"},"v":{"N":"1000"}}'
grep -v '"k01"' "$W/before" | python3 -c '
import json, sys
for l in sys.stdin: print(json.dumps(json.loads(l), sort_keys=True, separators=(",", ":")))' | sort >"$W/want"
dump Orders | grep -v '"k01"' >"$W/got"
cmp -s "$W/want" "$W/got" || { diff "$W/want" "$W/got" | head; fail "dynalite is not the state before the load"; }
assert_contains "$(dump Orders | grep '"k01"')" '"1000"'
# a re-run writes nothing
dump Orders >"$W/d1"
expect_exit 3 tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Orders
assert_contains "$ERR" "0 restored, 0 deleted, 54 already rolled back, 1 conflicts"
dump Orders | cmp -s - "$W/d1" || fail "the re-run wrote"
# fail: nothing written; overwrite: k01 back to its old image
expect_exit 3 tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Orders --on-conflict fail
expect_exit 0 tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Orders --on-conflict overwrite --key-values k01
assert_contains "$(dump Orders | grep '"k01"')" '"v":{"N":"1"}'
expect_exit 1 tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Missing
assert_contains "$ERR" "ResourceNotFoundException"

# 2. a writer racing the rollback: its writes are never overwritten
python3 "$PYE" seed "$URL" Race "$W/bad.jsonl"
racekeys=$(seq -w 1 40 | sed 's/^/k/' | awk 'NR % 2' | paste -sd,)
python3 "$PYE" race "$URL" Race "$racekeys" "$W/last.json" 4 &
rpid=$!
sleep 1.2
tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Race --jobs 8 --report "$W/race.jsonl" >/dev/null 2>&1 || true
wait $rpid
dump Race >"$W/race.dump"
python3 - "$W/last.json" "$W/race.dump" "$W/race.jsonl" <<'PY'
import json, sys
last = json.load(open(sys.argv[1]))
items = {json.loads(l)["Item"]["pk"]["S"]: json.loads(l)["Item"] for l in open(sys.argv[2])}
acts = {}
for l in open(sys.argv[3]):
    r = json.loads(l)
    if "Keys" in r: acts[r["Keys"]["pk"]["S"]] = r["Action"]
lost = [k for k, v in last.items() if items.get(k, {}).get("v", {}).get("N") != v]
if lost: sys.exit("FAIL: the rollback overwrote the racing writer's last write of %s" % lost[:5])
print("race: %d keys raced, %d conflicts, %d restored while racing" % (len(last),
      sum(1 for k in last if acts.get(k) == "CONFLICT"), sum(1 for k in last if acts.get(k) == "RESTORE")))
PY
# 3. more records than one BatchGetItem takes (100 keys): the dry run and fail mode read the
# current items in batches; three items changed on the endpoint are found in any batch
tidemark create-table --table Wide --key pk:S >/dev/null
tidemark pitr enable --table Wide >/dev/null
for i in $(seq -w 1 250); do echo "{\"pk\":{\"S\":\"w$i\"},\"v\":{\"N\":\"$i\"}}"; done | tidemark batch-write --table Wide --file - >/dev/null 2>&1
sleep 0.05; u0=$(now); sleep 0.05
for i in $(seq -w 1 250); do echo "{\"pk\":{\"S\":\"w$i\"},\"v\":{\"N\":\"-$i\"}}"; done | tidemark batch-write --table Wide --file - >/dev/null 2>&1
sleep 0.05; u1=$(now)
expect_exit 0 tidemark-export --table Wide --to "$W/wexp" --incremental --from "$u0" --until "$u1"
WE=$OUT
tidemark scan --table Wide >"$W/wide.jsonl"
python3 "$PYE" seed "$URL" Wide "$W/wide.jsonl"
python3 - "$URL" <<'PY2'
import sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
for k in ("w001", "w150", "w250"):
    c.put_item(TableName="Wide", Item={"pk": {"S": k}, "v": {"N": "7"}})
PY2
dump Wide >"$W/w0"
expect_exit 3 tidemark-rollback --from "$WE" --endpoint-url "$URL" --table-name Wide --dry-run --json
assert_contains "$ERR" "250 of 250 records chosen: 247 to restore, 0 to delete, 0 already rolled back, 3 conflicts"
assert_eq "w001 w150 w250" "$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
print(" ".join(sorted(json.loads(l)["Keys"]["pk"]["S"] for l in sys.stdin if "\"CONFLICT\"" in l)))')" "conflicts found through BatchGetItem"
expect_exit 3 tidemark-rollback --from "$WE" --endpoint-url "$URL" --table-name Wide --on-conflict fail
dump Wide | cmp -s - "$W/w0" || fail "fail mode wrote"
echo "rollback_endpoint: ok"
