#!/usr/bin/env bash
# rollback_endpoint_added.sh: the one write a rollback's condition cannot see on a DynamoDB-API
# endpoint (dynalite, npm, on 127.0.0.1, stopped by its PID): between the rollback's GetItem and
# its conditional PutItem/DeleteItem, another writer adds a NEW attribute and leaves every
# expected one as it was. The rollback sees from the replaced image (ALL_OLD) that it was not
# the expected one, puts it back, and reports a conflict: the other writer's attribute stays.
# TIDEMARK_TEST_ROLLBACK_PAUSED and _RESUME hold the window open. SKIP without dynalite or boto3.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
has_dynalite || { echo "SKIP: dynalite not installed (make deps)"; exit 0; }
python3 -c 'import boto3' 2>/dev/null || { echo "SKIP: python3-boto3 not installed"; exit 0; }
aws_env AKIDROLLBACK secret
start_dynalite "$W/dynalite.log" --createTableMs 10
URL=$DYN_URL
now() { python3 -c 'import time; print("%.6f" % time.time())'; }
ddb() {  # ddb OP JSON: one call through boto3, the answer as JSON
  python3 - "$URL" "$1" "$2" <<'PY'
import json, sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1")
r = getattr(c, sys.argv[2])(**json.loads(sys.argv[3]))
r.pop("ResponseMetadata", None)
print(json.dumps(r, sort_keys=True, default=str))
PY
}

# history: a (v 1) and d (v 4); the bad job sets a.v to -1 and deletes d... and inserts n
tidemark create-table --table Src --key pk:S >/dev/null
tidemark pitr enable --table Src >/dev/null
printf '%s\n' '{"pk":{"S":"a"},"v":{"N":"1"}}' '{"pk":{"S":"d"},"v":{"N":"4"}}' |
  tidemark batch-write --table Src --file - >/dev/null 2>&1
sleep 0.05; t0=$(now); sleep 0.05
tidemark put-item --table Src --item '{"pk":{"S":"a"},"v":{"N":"-1"}}' >/dev/null
tidemark put-item --table Src --item '{"pk":{"S":"n"},"v":{"N":"-1"}}' >/dev/null
sleep 0.05; t1=$(now)
expect_exit 0 tidemark-export --table Src --to "$W/exp" --incremental --from "$t0" --until "$t1"
E=$OUT

ddb create_table '{"TableName":"Tab","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}' >/dev/null
sleep 0.3
for it in '{"pk":{"S":"a"},"v":{"N":"-1"}}' '{"pk":{"S":"d"},"v":{"N":"4"}}' '{"pk":{"S":"n"},"v":{"N":"-1"}}'; do
  ddb put_item "{\"TableName\":\"Tab\",\"Item\":$it}" >/dev/null
done

# the rollback stops after its read (it makes the file "paused") until the file "resume" is
# there; meanwhile "extra" is added to a (to restore) and to n (to delete), one rollback per key
for k in a n; do
  rm -f "$W/paused" "$W/resume"
  TIDEMARK_TEST_ROLLBACK_PAUSED="$W/paused" TIDEMARK_TEST_ROLLBACK_RESUME="$W/resume" \
    tidemark-rollback --from "$E" --endpoint-url "$URL" --table-name Tab \
    --key-values "$k" --report "$W/r-$k.jsonl" >"$W/out-$k" 2>"$W/err-$k" &
  rb=$!
  for _ in $(seq 600); do [ -e "$W/paused" ] && break; sleep 0.05; done
  [ -e "$W/paused" ] || fail "the rollback of $k never read the item"
  ddb update_item "{\"TableName\":\"Tab\",\"Key\":{\"pk\":{\"S\":\"$k\"}},\"UpdateExpression\":\"SET extra = :x\",\"ExpressionAttributeValues\":{\":x\":{\"S\":\"kept\"}}}" >/dev/null
  touch "$W/resume"
  rc=0; wait $rb || rc=$?
  [ "$rc" = 3 ] || { cat "$W/err-$k"; fail "the rollback of $k exited $rc, not 3 (a conflict)"; }
  got=$(ddb get_item "{\"TableName\":\"Tab\",\"Key\":{\"pk\":{\"S\":\"$k\"}},\"ConsistentRead\":true}")
  assert_contains "$got" '"extra": {"S": "kept"}'
  assert_contains "$(cat "$W/r-$k.jsonl")" '"CONFLICT"'
  assert_contains "$(cat "$W/err-$k")" "1 conflicts"
done
echo "rollback_endpoint_added: ok"
