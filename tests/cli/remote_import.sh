#!/usr/bin/env bash
# remote_import.sh: tidemark-import --endpoint-url (issue 14), into a table behind a
# DynamoDB-API endpoint by BatchWriteItem, against `tidemark serve --no-auth` and dynalite
# (npm; SKIPPED when it or python3-boto3 is missing), each on a free port, stopped by PID.
# For each: a tidemark export imports into a new remote table (created from the export's
# schema, waited ACTIVE) whose Scan equals the source, every attribute type; JSON lines with
# duplicate keys go into the existing table with its own key schema (no --key): the later
# item wins; a CSV needs --key; a table with another key schema is refused before anything is
# written; the --json description names the remote table. A failed import (a bad line past
# --max-errors 0, SIGTERM) deletes the table it created (DescribeTable: ResourceNotFound),
# also after it wrote items (TIDEMARK_IMPORT_DIRECT=1: items go out as they are read); into a
# table that existed, the pre-existing and the written items stay and the error says how many.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
PY="$TM_ROOT/tests/cli/remote_items.py"
python3 -c 'import boto3' 2>/dev/null || { echo "SKIP: python3-boto3 not installed"; exit 0; }
aws_env AKIDREMOTE secret

N=3000
python3 "$PY" gen $N >"$W/items.jsonl"
python3 "$PY" canon "$W/items.jsonl" >"$W/want"
tidemark create-table --table Orders --key pk:S --sort-key sk:N >/dev/null
tidemark batch-write --table Orders --file "$W/items.jsonl" >/dev/null 2>&1
expect_exit 0 tidemark-export --table Orders --to "$W/exp" --jobs 2
E=$OUT
# Later lines replace earlier ones: 200 updates of existing keys, each given twice (the second
# wins), and 50 new items.
python3 - "$W/items.jsonl" >"$W/dups.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:200]
for r in rows:
    r["s"] = {"S": "first"}
    print(json.dumps(r))
for r in rows:
    r["s"] = {"S": "second"}
    print(json.dumps(r))
for i in range(50):
    print(json.dumps({"pk": {"S": "new"}, "sk": {"N": str(i)}, "s": {"S": "second"}}))
PY
python3 - "$W/items.jsonl" "$W/dups.jsonl" >"$W/want2.jsonl" <<'PY'
import json, sys
items = {}
for p in sys.argv[1:]:
    for l in open(p):
        r = json.loads(l)
        items[(r["pk"]["S"], r["sk"]["N"])] = r
for r in items.values():
    print(json.dumps(r))
PY
python3 "$PY" canon "$W/want2.jsonl" >"$W/want2"
printf 'pk,sk,v\nc1,1,a\nc1,2,b\n' >"$W/rows.csv"
# Good lines, then a bad one: 20 small ones, and 4000 of 1 KB (more than the 2 MiB a reader
# may run ahead of the writer, so with TIDEMARK_IMPORT_DIRECT=1 some are written first); 40000
# good ones of 1 KB to interrupt.
python3 - "$W" <<'PY'
import json, sys
def lines(path, pk, n, pad, bad):
    with open(path, "w") as f:
        for i in range(n):
            it = {"pk": {"S": pk}, "sk": {"N": str(i)}}
            if pad:
                it["p"] = {"S": "x" * pad}
            f.write(json.dumps(it) + "\n")
        if bad:
            f.write("{not json\n")
d = sys.argv[1]
lines(d + "/bad.jsonl", "bad", 20, 0, 1)
lines(d + "/bigbad.jsonl", "big", 4000, 1000, 1)
lines(d + "/huge.jsonl", "huge", 100000, 1000, 0)
lines(d + "/keep.jsonl", "keep", 5, 0, 0)
PY
python3 "$PY" canon "$W/keep.jsonl" >"$W/keep"
# gone URL TABLE: DescribeTable answers ResourceNotFoundException
gone() {
  python3 - "$1" "$2" <<'PY'
import sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="y")
try:
    c.describe_table(TableName=sys.argv[2])
except c.exceptions.ResourceNotFoundException:
    sys.exit(0)
sys.exit("table %s is still there" % sys.argv[2])
PY
}

check() {
  local name=$1 url=$2
  # 1. an export into a new remote table
  expect_exit 0 tidemark-import --from "$E" --table-name Imported --endpoint-url "$url" --threads 4 --json
  assert_contains "$OUT" '"ImportStatus": "COMPLETED"' "$name: --json"
  assert_contains "$OUT" "table/Imported" "$name: --json TableArn"
  assert_contains "$OUT" "\"ImportedItemCount\": $N" "$name: --json count"
  python3 "$PY" dump "$url" Imported >"$W/$name.got" || fail "$name: duplicate keys in the table"
  cmp -s "$W/want" "$W/$name.got" || fail "$name: the imported table differs: $(diff "$W/want" "$W/$name.got" | head -5)"
  # 2. JSON lines with duplicate keys into the existing table, with its own key schema
  expect_exit 0 tidemark-import --from "$W/dups.jsonl" --table-name Imported --endpoint-url "$url"
  python3 "$PY" dump "$url" Imported >"$W/$name.got2"
  cmp -s "$W/want2" "$W/$name.got2" || fail "$name: after the duplicates: $(diff "$W/want2" "$W/$name.got2" | head -5)"
  # 3. another key schema is refused, and nothing is written
  expect_exit 1 tidemark-import --from "$W/rows.csv" --table-name Imported --endpoint-url "$url" --key pk:S --sort-key v:S
  assert_contains "$ERR" "another key schema"
  python3 "$PY" dump "$url" Imported >"$W/$name.got3"
  cmp -s "$W/want2" "$W/$name.got3" || fail "$name: a refused import wrote"
  # 4. CSV into a new table with --key
  expect_exit 1 tidemark-import --from "$W/rows.csv" --table-name Csv --endpoint-url "$url"
  assert_contains "$ERR" "CSV needs --key"
  python3 - "$url" <<'PY' || fail "$name: a refused CSV import created its table"
import sys, boto3
c = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="y")
assert "Csv" not in c.list_tables()["TableNames"]
PY
  expect_exit 0 tidemark-import --from "$W/rows.csv" --table-name Csv --endpoint-url "$url" --key pk:S --sort-key sk:N
  assert_eq 2 "$(python3 "$PY" dump "$url" Csv | wc -l)" "$name: CSV rows"
  failed_imports "$name" "$url"
  echo "remote_import: $name OK"
}

# A failed import leaves no table it created; in one that existed, what it wrote stays.
failed_imports() {
  local name=$1 url=$2 n rc=0
  # 5. created, then a bad line (read before anything is written): deleted
  expect_exit 1 tidemark-import --from "$W/bad.jsonl" --table-name Failed --endpoint-url "$url" --key pk:S --sort-key sk:N --max-errors 0 --json
  assert_contains "$ERR" "the table Failed this import created was deleted" "$name: stderr"
  assert_contains "$OUT" '"ImportStatus": "FAILED"' "$name: --json"
  assert_contains "$OUT" '"FailureCode": "ItemValidationError"' "$name: --json"
  assert_contains "$OUT" 'this import created was deleted"' "$name: --json FailureMessage"
  gone "$url" Failed || fail "$name: a failed import left the table it created"
  # 6. created, items written, then the bad line: deleted with them
  TIDEMARK_IMPORT_DIRECT=1 expect_exit 1 tidemark-import --from "$W/bigbad.jsonl" --table-name Failed --endpoint-url "$url" --key pk:S --sort-key sk:N --max-errors 0
  assert_contains "$ERR" "the table Failed this import created was deleted" "$name: stderr (written)"
  gone "$url" Failed || fail "$name: a failed import that wrote left the table it created"
  # 7. an existing table: nothing deleted; its items and the written ones stay, counted
  python3 "$PY" seed "$url" Keep "$W/keep.jsonl"
  expect_exit 1 tidemark-import --from "$W/bad.jsonl" --table-name Keep --endpoint-url "$url" --max-errors 0
  assert_contains "$ERR" "no items were written to the existing table Keep" "$name: stderr (existing)"
  python3 "$PY" dump "$url" Keep >"$W/$name.keep"
  cmp -s "$W/keep" "$W/$name.keep" || fail "$name: a failed import changed the existing table"
  TIDEMARK_IMPORT_DIRECT=1 expect_exit 1 tidemark-import --from "$W/bigbad.jsonl" --table-name Keep --endpoint-url "$url" --max-errors 0 --json
  n=$(printf '%s' "$ERR" | sed -n 's/.*; \([0-9]*\) items were written to the existing table Keep and stay there$/\1/p')
  [ -n "$n" ] && [ "$n" -gt 0 ] || fail "$name: the error does not say how many items stay"
  assert_contains "$OUT" "$n items were written to the existing table Keep and stay there\"" "$name: --json FailureMessage"
  python3 "$PY" dump "$url" Keep >"$W/$name.keep2"
  assert_eq "$n" "$(grep -c '"pk":{"S":"big"}' "$W/$name.keep2")" "$name: written items in the existing table"
  grep '"pk":{"S":"keep"}' "$W/$name.keep2" | cmp -s "$W/keep" - || fail "$name: the pre-existing items changed"
  # 8. SIGTERM while writing into a table it created: deleted
  TIDEMARK_IMPORT_DIRECT=1 tidemark-import --from "$W/huge.jsonl" --table-name Killed --endpoint-url "$url" --key pk:S --sort-key sk:N 2>"$W/$name.kill" &
  local ip=$!
  # as soon as the table is there (the import then writes for seconds: 100,000 items of 1 KB)
  for _ in $(seq 100); do gone "$url" Killed 2>/dev/null || break; sleep 0.1; done
  kill -0 "$ip" 2>/dev/null || fail "$name: the import ended before the SIGTERM"
  kill -TERM "$ip"
  wait "$ip" || rc=$?
  ERR=$(cat "$W/$name.kill")
  assert_eq 1 "$rc" "$name: exit status after SIGTERM"
  assert_contains "$ERR" "interrupted; the table Killed this import created was deleted" "$name: stderr (SIGTERM)"
  gone "$url" Killed || fail "$name: an interrupted import left the table it created"
}

start_serve "$W/serve.log" --no-auth
port=$SRV_PORT
check serve "http://127.0.0.1:$port"
# the served table is a tidemark table: its own scan agrees
tidemark scan --table Imported | python3 "$PY" canon - >"$W/serve.local"
cmp -s "$W/want2" "$W/serve.local" || fail "serve: the local scan of the imported table differs"

if has_dynalite; then
  start_dynalite "$W/dynalite.log" --createTableMs 50
  check dynalite "$DYN_URL"
else
  echo "remote_import: dynalite part SKIPPED (not installed: make deps)"
fi
echo "remote_import: OK"
