#!/usr/bin/env bash
# remote_export.sh: tidemark-export --endpoint-url (issue 14), a full export of a remote table
# by parallel Scan, against `tidemark serve --no-auth` and dynalite (npm; its part is SKIPPED
# when not installed), each started on a free port and stopped by PID. For each: the export
# verifies and holds exactly the table's items (every attribute type), with the table's key
# schema in tidemark-schema.json; it imports into a local table equal to the source; a run
# killed (-9) in the middle leaves a state file and no summary, and the same command continues
# it (the same export, the files it had committed kept) to exactly the table's items, no
# duplicates; --resume refuses it, naming the command. Also usage errors and a missing table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
PY="$TM_ROOT/tests/cli/remote_items.py"
aws_env AKIDREMOTE secret

N=4000
python3 "$PY" gen $N >"$W/items.jsonl"
python3 "$PY" canon "$W/items.jsonl" >"$W/want"
assert_eq $N "$(wc -l <"$W/want")" "generated items"
tidemark create-table --table Orders --key pk:S --sort-key sk:N >/dev/null
tidemark batch-write --table Orders --file "$W/items.jsonl" >/dev/null 2>&1
tidemark scan --table Orders | python3 "$PY" canon - >"$W/local"
cmp -s "$W/want" "$W/local" || fail "the seeded table is not the generated items"

start_serve "$W/serve.log" --no-auth
port=$SRV_PORT

# The items of an export's data files, canonical.
export_items() { zcat "$1"/data/*.json.gz | python3 "$PY" canon -; }

# check NAME URL TABLE: the export scenario against one endpoint.
check() {
  local name=$1 url=$2 table=$3 dest=$W/$1 d k state
  # 1. a full export: verify, the items, the schema, the summary
  expect_exit 0 tidemark-export --endpoint-url "$url" --table-name "$table" --to "$dest" --segments 4
  d=$OUT
  assert_eq 1 "$(ls "$dest/AWSDynamoDB" | wc -l)" "$name: exports under the destination"
  expect_exit 0 tidemark-export verify "$d"
  assert_contains "$OUT" "$N items" "$name: verify"
  export_items "$d" >"$W/$name.got" || fail "$name: duplicate keys in the export"
  cmp -s "$W/want" "$W/$name.got" || fail "$name: the export's items differ: $(diff "$W/want" "$W/$name.got" | head -5)"
  assert_contains "$(cat "$d/tidemark-schema.json")" '"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]' "$name: schema"
  assert_contains "$(cat "$d/manifest-summary.json")" "\"itemCount\":$N," "$name: summary"
  [ ! -e "$d/tidemark-export-state.json" ] || fail "$name: a state file is left in a complete export"
  # 2. it imports into a local table equal to the source
  expect_exit 0 tidemark-import --from "$d" --table "Back_$name"
  tidemark scan --table "Back_$name" | python3 "$PY" canon - >"$W/$name.back"
  cmp -s "$W/want" "$W/$name.back" || fail "$name: the import of the export differs"
  # 3. kill -9 in the middle, then the same command again
  local cmd=(tidemark-export --endpoint-url "$url" --table-name "$table" --to "$dest.k"
             --segments 3 --scan-limit 40 --checkpoint-size 4K -q)
  TIDEMARK_EXPORT_DELAY_MS=40 "${cmd[@]}" >/dev/null 2>&1 &
  k=$!
  for _ in $(seq 300); do
    state=$(ls "$dest".k/AWSDynamoDB/*/tidemark-export-state.json 2>/dev/null || true)
    [ -n "$state" ] && [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["files"]))' "$state" 2>/dev/null || echo 0)" -ge 4 ] && break
    sleep 0.02
  done
  kill -9 "$k" 2>/dev/null || fail "$name: the export ended before it could be killed"
  wait "$k" 2>/dev/null || true
  d=$(dirname "$state")
  [ ! -e "$d/manifest-summary.json" ] || fail "$name: a killed export has a summary"
  cp "$state" "$W/$name.state"
  python3 - "$W/$name.state" <<'PY' || fail "$name: the killed export recorded no progress"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["remoteSource"].startswith("http://127.0.0.1:"), s["remoteSource"]
assert len(s["segments"]) == 3 and s["files"], s["segments"]
assert any(g["position"] for g in s["segments"]), s["segments"]
PY
  expect_exit 1 tidemark-export --resume "$d"
  assert_contains "$ERR" "run its tidemark-export --endpoint-url command again" "$name: --resume"
  expect_exit 0 "${cmd[@]}"
  assert_eq "$d" "$OUT" "$name: the same export continued"
  assert_eq 1 "$(ls "$dest.k/AWSDynamoDB" | wc -l)" "$name: exports after the resume"
  expect_exit 0 tidemark-export verify "$d"
  export_items "$d" >"$W/$name.kgot" || fail "$name: duplicate keys after the resume"
  cmp -s "$W/want" "$W/$name.kgot" || fail "$name: the resumed export's items differ: $(diff "$W/want" "$W/$name.kgot" | head -5)"
  # the files the killed run had recorded are in the manifest as they were
  python3 - "$W/$name.state" "$d/manifest-files.json" <<'PY' || fail "$name: the recorded files were not kept"
import json, sys
kept = {f["key"].rsplit("/", 1)[1]: f["md5"] for f in json.load(open(sys.argv[1]))["files"]}
man = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    man[e["dataFileS3Key"].rsplit("/", 1)[1]] = e["md5Checksum"]
for k, m in kept.items():
    assert man.get(k) == m, (k, m, man.get(k))
PY
  echo "remote_export: $name OK"
}

check serve "http://127.0.0.1:$port" Orders

# usage and failures
expect_exit 2 tidemark-export --endpoint-url "http://127.0.0.1:$port" --table-name Orders --to "$W/x" --time -1m
assert_contains "$ERR" "no --time"
expect_exit 2 tidemark-export --table Orders --to "$W/x" --segments 2
expect_exit 2 tidemark-export --endpoint-url "http://127.0.0.1:$port" --table-name Orders --to "$W/x" --segments 0
expect_exit 1 tidemark-export --endpoint-url "http://127.0.0.1:$port" --table-name Missing --to "$W/x"
assert_contains "$ERR" "Missing"
[ ! -d "$W/x/AWSDynamoDB" ] || [ -z "$(ls "$W/x/AWSDynamoDB")" ] || fail "a failed export of a missing table left an export"

if has_dynalite && python3 -c 'import boto3' 2>/dev/null; then
  start_dynalite "$W/dynalite.log" --createTableMs 10
  python3 "$PY" seed "$DYN_URL" Orders "$W/items.jsonl"
  check dynalite "$DYN_URL" Orders
else
  echo "remote_export: dynalite part SKIPPED (dynalite or python3-boto3 not installed)"
fi
echo "remote_export: OK"
