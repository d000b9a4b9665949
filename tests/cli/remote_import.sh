#!/usr/bin/env bash
# remote_import.sh: tidemark-import --endpoint-url (issue 14), into a table behind a
# DynamoDB-API endpoint by BatchWriteItem, against `tidemark serve --no-auth` and dynalite
# (npm; SKIPPED when it or python3-boto3 is missing), each on a free port, stopped by PID.
# For each: a tidemark export imports into a new remote table (created from the export's
# schema, waited ACTIVE) whose Scan equals the source, every attribute type; JSON lines with
# duplicate keys go into the existing table with its own key schema (no --key): the later
# item wins; a CSV needs --key; a table with another key schema is refused before anything is
# written; the --json description names the remote table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
PY="$TM_ROOT/tests/cli/remote_items.py"
python3 -c 'import boto3' 2>/dev/null || { echo "SKIP: python3-boto3 not installed"; exit 0; }
for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export AWS_ACCESS_KEY_ID=AKIDREMOTE AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
SRV= DPID=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; [ -n "$DPID" ] && kill "$DPID" 2>/dev/null; wait 2>/dev/null; _tm_cleanup' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null && return 0; sleep 0.1; done; fail "nothing listens on $1"; }

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
  echo "remote_import: $name OK"
}

port=$(free_port)
tidemark serve --no-auth --listen "127.0.0.1:$port" 2>"$W/serve.log" &
SRV=$!
wait_port "$port"
check serve "http://127.0.0.1:$port"
# the served table is a tidemark table: its own scan agrees
tidemark scan --table Imported | python3 "$PY" canon - >"$W/serve.local"
cmp -s "$W/want2" "$W/serve.local" || fail "serve: the local scan of the imported table differs"

DYN="$TM_ROOT/.deps/node_modules/dynalite/cli.js"
if [ -f "$DYN" ]; then
  dport=$(free_port)
  node "$DYN" --host 127.0.0.1 --port "$dport" --createTableMs 50 >"$W/dynalite.log" 2>&1 &
  DPID=$!
  wait_port "$dport"
  check dynalite "http://127.0.0.1:$dport"
else
  echo "remote_import: dynalite part SKIPPED (not installed: make deps)"
fi
echo "remote_import: OK"
