#!/usr/bin/env bash
# tidemark_basic.sh: tables and single items as a person uses them: create/describe/list/delete,
# put/get/update/delete with conditions and return values, errors naming the attribute, exit codes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home

# ---- help, version, usage errors (exit 2)
expect_exit 0 tidemark --help
assert_contains "$OUT" "create-table"
assert_contains "$OUT" "Examples:"
expect_exit 0 tidemark --version
assert_contains "$OUT" "tidemark "
for c in create-table describe-table list-tables delete-table put-item get-item update-item \
         delete-item query scan batch-write snapshot timeline "pitr enable" "pitr status" "log verify"; do
  # shellcheck disable=SC2086
  expect_exit 0 tidemark $c --help
  assert_contains "$OUT" "Example" "help of $c"
done
expect_exit 2 tidemark frobnicate
assert_contains "$ERR" "unknown command 'frobnicate'"
expect_exit 2 tidemark put-item --table Orders
assert_contains "$ERR" "--item is required"
expect_exit 2 tidemark put-item --table Orders --item '{}' --limit 3
assert_contains "$ERR" "--limit does not apply"
expect_exit 2 tidemark create-table --table Orders --key OrderId
assert_contains "$ERR" "NAME:TYPE"
expect_exit 2 tidemark scan --table Orders --limit -1
expect_exit 2 tidemark pitr
assert_contains "$ERR" "enable, disable, status"

# ---- tables
expect_exit 0 tidemark create-table --table Orders --key OrderId:S --sort-key Ts:N
assert_contains "$OUT" '"TableStatus": "ACTIVE"'
assert_contains "$OUT" '"KeyType": "RANGE"'
expect_exit 1 tidemark create-table --table Orders --key OrderId:S
assert_contains "$ERR" "tidemark: create-table:"
expect_exit 2 tidemark create-table --table 'a/b' --key K:S   # a bad name is a usage error (issue 12)
assert_contains "$ERR" "a/b"
expect_exit 0 tidemark --data "$TM_HOME" create-table --table Accounts --key Id:N --durability none
expect_exit 0 tidemark list-tables
assert_eq '["Accounts", "Orders"]' "$(python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["TableNames"]))' <<<"$OUT")" "list-tables"
expect_exit 1 tidemark describe-table --table Nope
assert_contains "$ERR" "Nope"
# --data wins over TIDEMARK_HOME
other=$(mktemp -d); _tm_homes+=("$other")
expect_exit 0 tidemark --data "$other" list-tables
assert_contains "$OUT" '"TableNames": []'

# ---- put / get
o1='{"OrderId":{"S":"1"},"Ts":{"N":"100"},"Total":{"N":"450"},"Tags":{"SS":["a","b"]}}'
k1='{"OrderId":{"S":"1"},"Ts":{"N":"100"}}'
expect_exit 0 tidemark put-item --table Orders --item "$o1"
assert_eq "" "$OUT" "put-item output"
expect_exit 0 tidemark get-item --table Orders --key "$k1"
assert_eq '{"Item":{"OrderId":{"S":"1"},"Tags":{"SS":["a","b"]},"Total":{"N":"450"},"Ts":{"N":"100"}}}' "$OUT"
expect_exit 0 tidemark get-item --table Orders --key '{"OrderId":{"S":"1"},"Ts":{"N":"1e2"}}'
assert_contains "$OUT" '"Total":{"N":"450"}' "numbers are keys by value"
expect_exit 0 tidemark get-item --table Orders --key '{"OrderId":{"S":"2"},"Ts":{"N":"1"}}'
assert_eq '{}' "$OUT" "absent item"
# bad input names the attribute
expect_exit 1 tidemark put-item --table Orders --item '{"OrderId":{"S":"1"},"Ts":{"N":"1"},"Price":{"N":"1E126"}}'
assert_contains "$ERR" "Price"
expect_exit 1 tidemark put-item --table Orders --item '{"OrderId":{"S":"1"},"Total":{"N":"1"}}'
assert_contains "$ERR" "Ts"
expect_exit 1 tidemark put-item --table Orders --item '{"OrderId":{"N":"1"},"Ts":{"N":"1"}}'
assert_contains "$ERR" "OrderId"
expect_exit 1 tidemark put-item --table Orders --item '{"OrderId":{"S":"1"},"Ts":{"N":"1"},"Tags":{"SS":["x","x"]}}'
assert_contains "$ERR" "Tags"
expect_exit 1 tidemark put-item --table Orders --item '{"OrderId":{"S":"1"},"Ts":{"N":"1"}'
expect_exit 1 tidemark get-item --table Orders --key '{"OrderId":{"S":"1"}}'
assert_contains "$ERR" "Ts"
expect_exit 1 tidemark get-item --table Orders --key '{"OrderId":{"S":"1"},"Ts":{"N":"100"},"X":{"S":"y"}}'
assert_contains "$ERR" "does not match the schema"

# ---- conditional writes
expect_exit 3 tidemark put-item --table Orders --item "$o1" --condition-expression 'attribute_not_exists(OrderId)'   # a conflict: 3 (issue 12)
assert_contains "$ERR" "ConditionalCheckFailedException"
expect_exit 0 tidemark put-item --table Orders --item '{"OrderId":{"S":"1"},"Ts":{"N":"100"},"Total":{"N":"500"}}' \
  --condition-expression '#t < :max AND attribute_exists(OrderId)' \
  --expression-attribute-names '{"#t":"Total"}' --expression-attribute-values '{":max":{"N":"451"}}' \
  --return-values ALL_OLD
assert_contains "$OUT" '"Attributes":{'
assert_contains "$OUT" '"Total":{"N":"450"}' "ALL_OLD"
expect_exit 0 tidemark put-item --table Orders --item '{"OrderId":{"S":"9"},"Ts":{"N":"1"}}' \
  --condition-expression 'attribute_not_exists(OrderId)' --return-values ALL_OLD
assert_eq '{}' "$OUT" "ALL_OLD of a new item"
expect_exit 1 tidemark put-item --table Orders --item "$o1" --condition-expression 'Total = :v'
assert_contains "$ERR" "':v' is not defined"
expect_exit 1 tidemark put-item --table Orders --item "$o1" --condition-expression 'Total = = :v' \
  --expression-attribute-values '{":v":{"N":"1"}}'
assert_contains "$ERR" "column 9"
expect_exit 1 tidemark put-item --table Orders --item "$o1" --expression-attribute-values '{":v":{"N":"1"}}'
assert_contains "$ERR" "unused"
expect_exit 2 tidemark put-item --table Orders --item "$o1" --return-values ALL_NEW

# ---- update
expect_exit 0 tidemark update-item --table Orders --key "$k1" \
  --update-expression 'SET Total = Total + :d, Note = :n REMOVE Tags' \
  --expression-attribute-values '{":d":{"N":"-0.5"},":n":{"S":"gift"}}' --return-values ALL_NEW
assert_eq '{"Attributes":{"Note":{"S":"gift"},"OrderId":{"S":"1"},"Total":{"N":"499.5"},"Ts":{"N":"100"}}}' "$OUT"
expect_exit 1 tidemark update-item --table Orders --key "$k1" --update-expression 'SET Ts = :d' \
  --expression-attribute-values '{":d":{"N":"1"}}'
assert_contains "$ERR" "Cannot update attribute Ts"
expect_exit 1 tidemark update-item --table Orders --key "$k1" --update-expression 'SET Note = Note + :d' \
  --expression-attribute-values '{":d":{"N":"1"}}'
assert_contains "$ERR" "operand type"
expect_exit 3 tidemark update-item --table Orders --key "$k1" --update-expression 'SET Total = :z' \
  --condition-expression 'Total > :big' --expression-attribute-values '{":z":{"N":"0"},":big":{"N":"1000"}}'
assert_contains "$ERR" "ConditionalCheckFailedException"
# update of an absent item creates it (DynamoDB); if_not_exists
expect_exit 0 tidemark update-item --table Orders --key '{"OrderId":{"S":"5"},"Ts":{"N":"1"}}' \
  --update-expression 'SET Hits = if_not_exists(Hits, :z) + :one' \
  --expression-attribute-values '{":z":{"N":"0"},":one":{"N":"1"}}'
expect_exit 0 tidemark get-item --table Orders --key '{"OrderId":{"S":"5"},"Ts":{"N":"1"}}'
assert_eq '{"Item":{"Hits":{"N":"1"},"OrderId":{"S":"5"},"Ts":{"N":"1"}}}' "$OUT"

# ---- delete
expect_exit 3 tidemark delete-item --table Orders --key "$k1" --condition-expression 'Note = :x' \
  --expression-attribute-values '{":x":{"S":"other"}}'
assert_contains "$ERR" "ConditionalCheckFailedException"
expect_exit 0 tidemark delete-item --table Orders --key "$k1" --return-values ALL_OLD
assert_contains "$OUT" '"Note":{"S":"gift"}'
expect_exit 0 tidemark get-item --table Orders --key "$k1"
assert_eq '{}' "$OUT"
expect_exit 0 tidemark delete-item --table Orders --key "$k1"

# ---- describe counts
expect_exit 0 tidemark describe-table --table Orders
assert_contains "$OUT" '"ItemCount": 2'
assert_contains "$OUT" '"TableName": "Orders"'
assert_contains "$OUT" '"TableArn": "arn:aws:dynamodb:'
assert_contains "$OUT" '"CreationDateTime": "20'

# ---- snapshot
expect_exit 0 tidemark snapshot --table Orders
assert_contains "$OUT" '"ItemCount": 2'

# ---- delete-table
expect_exit 0 tidemark delete-table --table Orders
assert_contains "$OUT" '"TableStatus": "DELETING"'
expect_exit 1 tidemark get-item --table Orders --key "$k1"
assert_contains "$ERR" "not found"
expect_exit 0 tidemark list-tables
assert_contains "$OUT" '"Accounts"'

# ---- typos get "did you mean" (issue 12): commands, options before and after the command
expect_exit 2 tidemark put-iten --table Orders
assert_contains "$ERR" "tidemark: unknown command 'put-iten'; did you mean 'put-item'?"
expect_exit 2 tidemark get-item --tabel Orders --key "$k1"
assert_contains "$ERR" "tidemark: get-item: unrecognized option '--tabel'; did you mean '--table'?"
assert_contains "$ERR" "Try 'tidemark get-item --help'."
expect_exit 2 tidemark --jsno list-tables
assert_contains "$ERR" "did you mean '--json'?"
expect_exit 2 tidemark get-item --table
assert_contains "$ERR" "option '--table' requires an argument"
expect_exit 2 tidemark pitr stauts --table Orders
assert_contains "$ERR" "tidemark: unknown command 'pitr stauts'; did you mean 'pitr status'?"
expect_exit 2 tidemark log
assert_contains "$ERR" "log needs one of: verify, list"

# ---- read-only commands refuse a data directory that does not exist (and do not make it),
# in the words and with the exit status of tidemark-export (issue 12)
nohome=$TM_HOME/no-such-home
for c in list-tables "describe-table --table Orders" "timeline --table Orders" "scan --table Orders" \
         "get-item --table Orders --key {}" "pitr status --table Orders" "log list --table Orders"; do
  # shellcheck disable=SC2086
  expect_exit 1 tidemark --data "$nohome" $c
  assert_contains "$ERR" "no tidemark data directory at $nohome (create one with \`tidemark create-table --data $nohome ...\`)" "$c"
  [ ! -e "$nohome" ] || fail "$c made $nohome"
done
TIDEMARK_HOME=$nohome expect_exit 1 tidemark list-tables
assert_contains "$ERR" "tidemark: list-tables: no tidemark data directory at $nohome"

# ---- --help names every time form
expect_exit 0 tidemark timeline --help
assert_contains "$OUT" "zone is UTC"
assert_contains "$OUT" "'2025-11-12 10:15'"
assert_contains "$OUT" "-1h30m"
echo "tidemark_basic: OK"
