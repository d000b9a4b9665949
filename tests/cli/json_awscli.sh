#!/usr/bin/env bash
# json_awscli.sh: every `tidemark ... --json` output is what `aws dynamodb <op>` prints for the
# same response. For each operation, `tidemark call <Op>` gives the wire response; awscli_format.py
# runs it through botocore's parser and awscli's JSON formatter (aws CLI v2's own code path);
# the program's --json output must hold every field of that, equal (timestamps included), with
# only tidemark's own "Tidemark" member and members newer than the installed awscli's model
# beside them, each also in the wire response (awscli_compare.py, shared with
# json_awscli_backup.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
PY=/usr/bin/python3
FMT="$TM_ROOT/tests/cli/awscli_format.py"
CMP="$TM_ROOT/tests/cli/awscli_compare.py"
rc=0; echo '{}' | "$PY" "$FMT" DescribeTable >/dev/null 2>&1 || rc=$?
if [ "$rc" = 77 ]; then echo "json_awscli: SKIP (awscli/botocore not importable by $PY)"; exit 0; fi
export TZ=UTC

# compare OP WIRE OURS: fields of aws's output against ours (awscli_compare.py, the one
# comparison; tidemark's own "Tidemark" member is printed on purpose)
compare() {
  local op=$1 wire=$2 ours=$3 aws
  aws=$(printf '%s' "$wire" | "$PY" "$FMT" "$op") || fail "$op: awscli_format failed on: $wire"
  "$PY" "$CMP" "$op" "$aws" "$ours" "$wire" Tidemark || fail "$op: --json differs from the aws CLI's output"
}

# check OP REQUEST -- tidemark args...: the wire response of OP and the --json output of args
check() {
  local op=$1 req=$2; shift 3
  expect_exit 0 tidemark call "$op" --request "$req"
  local wire=$OUT
  expect_exit 0 "$@" --json
  compare "$op" "$wire" "$OUT"
}

export TIDEMARK_CLOCK=2026-12-06T03:49:28.55Z
# CreateTable's response is compared through DescribeTable's shape (a second create fails)
expect_exit 0 tidemark create-table --table Orders --key Id:S --sort-key Ts:N --json
created=$OUT
expect_exit 0 tidemark call DescribeTable --request '{"TableName":"Orders"}'
compare CreateTable "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.dumps({"TableDescription": json.load(sys.stdin)["Table"]}))')" "$created"
assert_contains "$created" '"CreationDateTime": "2026-12-06T03:49:28.550000+00:00"' "a fraction: 6 digits, the offset"
check DescribeTable '{"TableName":"Orders"}' -- tidemark describe-table --table Orders
check ListTables '{}' -- tidemark list-tables

export TIDEMARK_CLOCK=2026-12-06T03:50:00Z
item='{"Id":{"S":"a\"b\u00e9"},"Ts":{"N":"1"},"Tags":{"SS":["x","y"]},"M":{"M":{"n":{"NULL":true},"l":{"L":[{"BOOL":false},{"N":"-1.5"}]}}},"B":{"B":"AAEC"}}'
key='{"Id":{"S":"a\"b\u00e9"},"Ts":{"N":"1"}}'
expect_exit 0 tidemark put-item --table Orders --item "$item"
check PutItem "{\"TableName\":\"Orders\",\"Item\":$item,\"ReturnValues\":\"ALL_OLD\"}" -- \
  tidemark put-item --table Orders --item "$item" --return-values ALL_OLD
check GetItem "{\"TableName\":\"Orders\",\"Key\":$key}" -- tidemark get-item --table Orders --key "$key"
check GetItem '{"TableName":"Orders","Key":{"Id":{"S":"none"},"Ts":{"N":"1"}}}' -- \
  tidemark get-item --table Orders --key '{"Id":{"S":"none"},"Ts":{"N":"1"}}'
check UpdateItem "{\"TableName\":\"Orders\",\"Key\":$key,\"UpdateExpression\":\"SET C = :c\",\"ExpressionAttributeValues\":{\":c\":{\"N\":\"7\"}},\"ReturnValues\":\"ALL_NEW\"}" -- \
  tidemark update-item --table Orders --key "$key" --update-expression 'SET C = :c' \
  --expression-attribute-values '{":c":{"N":"7"}}' --return-values ALL_NEW
for i in 2 3 4; do tidemark put-item --table Orders --item "{\"Id\":{\"S\":\"q\"},\"Ts\":{\"N\":\"$i\"}}"; done
check Query '{"TableName":"Orders","KeyConditionExpression":"Id = :p","ExpressionAttributeValues":{":p":{"S":"q"}},"Limit":2}' -- \
  tidemark query --table Orders --key-condition 'Id = :p' --expression-attribute-values '{":p":{"S":"q"}}' --limit 2
check Query '{"TableName":"Orders","KeyConditionExpression":"Id = :p","ExpressionAttributeValues":{":p":{"S":"none"}}}' -- \
  tidemark query --table Orders --key-condition 'Id = :p' --expression-attribute-values '{":p":{"S":"none"}}'
check Scan '{"TableName":"Orders"}' -- tidemark scan --table Orders
tidemark put-item --table Orders --item "$item"   # the same image for both deletes
expect_exit 0 tidemark call DeleteItem --request "{\"TableName\":\"Orders\",\"Key\":$key,\"ReturnValues\":\"ALL_OLD\"}"
wire=$OUT
tidemark put-item --table Orders --item "$item"   # back, for the program's delete
expect_exit 0 tidemark delete-item --table Orders --key "$key" --return-values ALL_OLD --json
compare DeleteItem "$wire" "$OUT"
assert_contains "$OUT" '"Attributes": {'
check DeleteItem "{\"TableName\":\"Orders\",\"Key\":$key,\"ReturnValues\":\"ALL_OLD\"}" -- \
  tidemark delete-item --table Orders --key "$key" --return-values ALL_OLD

check DescribeContinuousBackups '{"TableName":"Orders"}' -- tidemark pitr status --table Orders
expect_exit 0 tidemark pitr enable --table Orders
export TIDEMARK_CLOCK=2026-12-06T04:00:00.000001Z
tidemark put-item --table Orders --item '{"Id":{"S":"late"},"Ts":{"N":"1"}}'
check DescribeContinuousBackups '{"TableName":"Orders"}' -- tidemark pitr status --table Orders
assert_contains "$OUT" '"EarliestRestorableDateTime": "2026-12-06T03:50:00+00:00"' "no fraction when it is 0"

# a wire error: the __type and the exit status from the error table
expect_exit 3 tidemark call PutItem --request '{"TableName":"Orders","Item":{"Id":{"S":"late"},"Ts":{"N":"1"}},"ConditionExpression":"attribute_not_exists(Id)"}'
assert_contains "$OUT" '"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"'
expect_exit 1 tidemark call DescribeTable --request '{"TableName":"Nope"}'
assert_contains "$OUT" '"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"'
expect_exit 2 tidemark call NoSuchOperation
assert_contains "$OUT" 'UnknownOperationException'
echo "json_awscli: OK"
