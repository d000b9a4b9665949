#!/usr/bin/env bash
# serve_awscli.sh: `tidemark serve` driven by Debian's aws CLI with only --endpoint-url added,
# every request SigV4-signed and checked by the server (the key pair of its environment):
# tables and items (create-table, put/get/update/delete-item, query, scan, batch-write-item),
# PITR (update/describe-continuous-backups), an export to s3rver (behind the strict SigV4
# proxy) answered IN_PROGRESS then COMPLETED (list-exports, describe-export), restores with
# --restore-date-time and --use-latest-restorable-time (the table appears CREATING, then
# holds the state of that time), and import-table of that export from s3rver (describe-import).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
AWS=/usr/bin/aws
[ -x "$AWS" ] || { echo "SKIP: no /usr/bin/aws"; exit 0; }
make_home
work=$TM_HOME/work
mkdir -p "$work"

aws_env S3RVER S3RVER
bucket=tm-serve
start_s3 "$work" "$bucket"
S3EP=$S3_EP

# The server: its environment's key pair checks the signatures and reaches S3.
AWS_ENDPOINT_URL_S3=$S3EP start_serve "$work/serve.log"
port=$SRV_PORT
assert_contains "$(cat "$work/serve.log")" "SigV4 required: 1 key pair"
ddb() { "$AWS" dynamodb --endpoint-url "http://127.0.0.1:$port" --output json "$@"; }
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# 1. Tables and items.
out=$(ddb create-table --table-name Orders --attribute-definitions AttributeName=pk,AttributeType=S \
  AttributeName=sk,AttributeType=N --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
  --billing-mode PAY_PER_REQUEST)
assert_eq ACTIVE "$(jq_ 'd["TableDescription"]["TableStatus"]' <<<"$out")" "create-table status"
ddb put-item --table-name Orders --item '{"pk":{"S":"u1"},"sk":{"N":"1"},"total":{"N":"10"}}'
ddb put-item --table-name Orders --item '{"pk":{"S":"u1"},"sk":{"N":"2"},"total":{"N":"20"},"tag":{"S":"gift"}}'
out=$(ddb get-item --table-name Orders --key '{"pk":{"S":"u1"},"sk":{"N":"2"}}')
assert_eq gift "$(jq_ 'd["Item"]["tag"]["S"]' <<<"$out")" "get-item"
out=$(ddb update-item --table-name Orders --key '{"pk":{"S":"u1"},"sk":{"N":"1"}}' \
  --update-expression 'SET total = total + :d, note = :n' \
  --expression-attribute-values '{":d":{"N":"5"},":n":{"S":"x"}}' --return-values ALL_NEW)
assert_eq 15 "$(jq_ 'd["Attributes"]["total"]["N"]' <<<"$out")" "update-item ALL_NEW"
out=$(ddb query --table-name Orders --key-condition-expression 'pk = :p AND sk > :s' \
  --expression-attribute-values '{":p":{"S":"u1"},":s":{"N":"0"}}')
assert_eq "2 15" "$(jq_ 'str(d["Count"]) + " " + d["Items"][0]["total"]["N"]' <<<"$out")" "query"
cat >"$work/batch.json" <<'EOF'
{"Orders":[
 {"PutRequest":{"Item":{"pk":{"S":"u2"},"sk":{"N":"1"},"total":{"N":"7"}}}},
 {"PutRequest":{"Item":{"pk":{"S":"u2"},"sk":{"N":"2"},"total":{"N":"8"}}}},
 {"PutRequest":{"Item":{"pk":{"S":"u3"},"sk":{"N":"1"},"total":{"N":"9"}}}}]}
EOF
out=$(ddb batch-write-item --request-items "file://$work/batch.json")
assert_eq "{}" "$(jq_ 'json.dumps(d["UnprocessedItems"])' <<<"$out")" "batch-write-item"
ddb delete-item --table-name Orders --key '{"pk":{"S":"u3"},"sk":{"N":"1"}}'
out=$(ddb scan --table-name Orders)
assert_eq 4 "$(jq_ 'd["Count"]' <<<"$out")" "scan count"
# the aws CLI pages a scan itself: with --page-size 1 it follows LastEvaluatedKey to the end
out=$(ddb scan --table-name Orders --page-size 1)
assert_eq 4 "$(jq_ 'len(d["Items"])' <<<"$out")" "scan followed page by page"

# 2. PITR.
out=$(ddb update-continuous-backups --table-name Orders \
  --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true)
assert_eq ENABLED "$(jq_ 'd["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]' <<<"$out")" "update-continuous-backups"
sleep 1.2
ddb put-item --table-name Orders --item '{"pk":{"S":"u4"},"sk":{"N":"1"},"total":{"N":"1"}}'
sleep 1.2
t_mid=$(python3 -c 'import time; print(int(time.time()))')
sleep 1.2
ddb put-item --table-name Orders --item '{"pk":{"S":"u5"},"sk":{"N":"1"},"total":{"N":"1"}}'
out=$(ddb describe-continuous-backups --table-name Orders)
earliest=$(jq_ 'd["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]' <<<"$out")
[ -n "$earliest" ] || fail "describe-continuous-backups: no EarliestRestorableDateTime"

# 3. Export to S3: IN_PROGRESS at once, then COMPLETED.
out=$(ddb export-table-to-point-in-time --table-arn arn:aws:dynamodb:us-east-1:000000000000:table/Orders \
  --s3-bucket "$bucket" --s3-prefix nightly)
arn=$(jq_ 'd["ExportDescription"]["ExportArn"]' <<<"$out")
assert_eq IN_PROGRESS "$(jq_ 'd["ExportDescription"]["ExportStatus"]' <<<"$out")" "export answered"
st=
for _ in $(seq 200); do
  st=$(ddb describe-export --export-arn "$arn" | jq_ 'd["ExportDescription"]["ExportStatus"]')
  [ "$st" = IN_PROGRESS ] || break
  sleep 0.1
done
assert_eq COMPLETED "$st" "describe-export"
out=$(ddb describe-export --export-arn "$arn")
assert_eq 6 "$(jq_ 'd["ExportDescription"]["ItemCount"]' <<<"$out")" "exported items"
manifest=$(jq_ 'd["ExportDescription"]["ExportManifest"]' <<<"$out")
"$AWS" s3 ls --endpoint-url "$S3EP" "s3://$bucket/$manifest" >/dev/null || fail "manifest $manifest not in S3"
out=$(ddb list-exports)
assert_contains "$out" "$arn" "list-exports"

# 4. Restores: to a time (before u5), and to the latest restorable time.
out=$(ddb restore-table-to-point-in-time --source-table-name Orders --target-table-name OrdersMid \
  --restore-date-time "$t_mid")
assert_eq CREATING "$(jq_ 'd["TableDescription"]["TableStatus"]' <<<"$out")" "restore answered"
ddb restore-table-to-point-in-time --source-table-name Orders --target-table-name OrdersLatest \
  --use-latest-restorable-time >/dev/null
"$AWS" dynamodb wait table-exists --endpoint-url "http://127.0.0.1:$port" --table-name OrdersMid
"$AWS" dynamodb wait table-exists --endpoint-url "http://127.0.0.1:$port" --table-name OrdersLatest
assert_eq 5 "$(ddb scan --table-name OrdersMid | jq_ 'd["Count"]')" "restored at t_mid: u4 but not u5"
assert_eq 6 "$(ddb scan --table-name OrdersLatest | jq_ 'd["Count"]')" "restored at the latest time"
out=$(ddb describe-table --table-name OrdersMid)
assert_contains "$out" '"SourceTableArn": "arn:aws:dynamodb:us-east-1:000000000000:table/Orders"' "RestoreSummary"

# 5. Import the export from S3 into a new table.
id=${arn##*/}
out=$(ddb import-table --s3-bucket-source "S3Bucket=$bucket,S3KeyPrefix=nightly/AWSDynamoDB/$id/data/" \
  --input-format DYNAMODB_JSON --input-compression-type GZIP --table-creation-parameters \
  'TableName=Imported,KeySchema=[{AttributeName=pk,KeyType=HASH},{AttributeName=sk,KeyType=RANGE}],AttributeDefinitions=[{AttributeName=pk,AttributeType=S},{AttributeName=sk,AttributeType=N}],BillingMode=PAY_PER_REQUEST')
iarn=$(jq_ 'd["ImportTableDescription"]["ImportArn"]' <<<"$out")
assert_eq IN_PROGRESS "$(jq_ 'd["ImportTableDescription"]["ImportStatus"]' <<<"$out")" "import answered"
for _ in $(seq 200); do
  st=$(ddb describe-import --import-arn "$iarn" | jq_ 'd["ImportTableDescription"]["ImportStatus"]')
  [ "$st" = IN_PROGRESS ] || break
  sleep 0.1
done
assert_eq COMPLETED "$st" "describe-import: $(ddb describe-import --import-arn "$iarn")"
assert_eq 6 "$(ddb scan --table-name Imported | jq_ 'd["Count"]')" "imported items"
assert_contains "$(ddb list-imports)" "$iarn" "list-imports"

# 6. A clean stop.
kill -TERM "$SRV_PID"
wait "$SRV_PID" || fail "serve exited $? on SIGTERM"
SRV_PID=
assert_contains "$(cat "$work/serve.log")" "stopped"
echo "serve_awscli: OK"
