#!/usr/bin/env bash
# export_s3.sh: exports to an S3-compatible server through the strict SigV4 proxy
# (tests/s3/lib.sh: s3rver <- sigv4_proxy), read by real clients:
#   - `aws s3 ls` shows AWS's layout under the prefix (full and incremental, shared data/);
#   - verify, list, describe work on s3:// directly;
#   - `aws s3 cp --recursive` downloads it; the independent reader checks it byte by byte and
#     compares it with `tidemark scan`;
#   - DuckDB (@duckdb/node-api) runs SELECT count(*), sum(CAST(Item.amount.N AS DOUBLE)) FROM
#     read_ndjson('.../data/*.json.gz') and gets the table's numbers;
#   - a kill -9 midway, then --resume to S3.
# Every request must pass the proxy's signature check.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
PY=/usr/bin/python3
RX="$TM_ROOT/tests/export/read_export.py"
GEN="$TM_ROOT/tests/export/gen_items.py"
AWS=/usr/bin/aws
make_home
work=$TM_HOME/work
mkdir -p "$work"

aws_env S3RVER S3RVER
bucket=tidemark-exports
start_s3 "$work" "$bucket"
export AWS_ENDPOINT_URL_S3=$S3_EP
EP=$AWS_ENDPOINT_URL_S3

tidemark create-table --table Sales --key pk:S --sort-key sk:N >/dev/null
tidemark pitr enable --table Sales >/dev/null
t_enabled=$("$PY" -c 'import time; print("%.6f" % (time.time() + 0.001))')
"$PY" "$GEN" 2500 >"$work/items.jsonl"
tidemark batch-write --table Sales --file "$work/items.jsonl" >/dev/null 2>&1
tidemark scan --table Sales >"$work/scan.jsonl"
"$PY" "$RX" lines "$work/scan.jsonl" >"$work/want"
read -r want_n want_sum < <("$PY" -c '
import json, sys
n, s = 0, 0.0
for l in open(sys.argv[1]):
    n += 1; s += float(json.loads(l)["Item"]["amount"]["N"])
print(n, "%.2f" % s)' "$work/scan.jsonl")

# 1. Full export to s3://bucket/prefix.
expect_exit 0 tidemark-export --table Sales --to "s3://$bucket/nightly/sales" --jobs 3
sdir=$OUT
assert_contains "$sdir" "s3://$bucket/nightly/sales/AWSDynamoDB/"
id=$(basename "$sdir")
"$AWS" --endpoint-url "$EP" s3 ls --recursive "s3://$bucket/nightly/sales/" >"$work/ls.txt"
cat "$work/ls.txt"
for f in _started manifest-files.json manifest-files.md5 manifest-summary.json manifest-summary.md5 tidemark-schema.json; do
  grep -q " nightly/sales/AWSDynamoDB/$id/$f\$" "$work/ls.txt" || fail "aws s3 ls: no $f"
done
[ "$(grep -Ec " nightly/sales/AWSDynamoDB/$id/data/[a-z2-7]{26}\.json\.gz\$" "$work/ls.txt")" -ge 3 ] \
  || fail "aws s3 ls: data files"
grep -q "tidemark-export-state.json" "$work/ls.txt" && fail "state file left in S3"
expect_exit 0 tidemark-export verify "$sdir"
assert_contains "$OUT" "$want_n items"
expect_exit 0 tidemark-export describe --json "$sdir"
assert_contains "$(jc "$OUT")" "\"S3Bucket\":\"$bucket\",\"S3Prefix\":\"nightly/sales\""
assert_contains "$(jc "$OUT")" "\"ExportManifest\":\"nightly/sales/AWSDynamoDB/$id/manifest-summary.json\""

# 2. Download with aws-cli; the independent reader and DuckDB read it.
"$AWS" --endpoint-url "$EP" s3 cp --only-show-errors --recursive "s3://$bucket/nightly/sales/" "$work/dl/"
"$PY" "$RX" export "$work/dl/AWSDynamoDB/$id" >"$work/got" || fail "read_export rejected the S3 export"
cmp -s "$work/want" "$work/got" || fail "downloaded export != scan"
"$PY" "$RX" summary "$work/dl/AWSDynamoDB/$id" | grep -qx "s3Prefix=nightly/sales" || fail "s3Prefix"
grep -q "\"dataFileS3Key\":\"nightly/sales/AWSDynamoDB/$id/data/" "$work/dl/AWSDynamoDB/$id/manifest-files.json" \
  || fail "dataFileS3Key without the prefix"
res=$(node "$TM_ROOT/tests/export/duckdb_query.js" "$TM_ROOT" \
  "SELECT count(*), round(sum(CAST(Item.amount.N AS DOUBLE)), 2) FROM read_ndjson('$work/dl/AWSDynamoDB/$id/data/*.json.gz')")
got_n=$(printf '%s' "$res" | cut -f1)
got_sum=$(printf '%s' "$res" | cut -f2)
assert_eq "$want_n" "$got_n" "DuckDB count(*)"
"$PY" -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 0.01)' "$want_sum" "$got_sum" \
  || fail "DuckDB sum $got_sum, table $want_sum"
echo "export_s3: DuckDB: count $got_n, sum $got_sum"

# 3. Incremental to S3: shared data folder under the prefix.
tidemark update-item --table Sales --key '{"pk":{"S":"u00-\u00e9\"q\\0"},"sk":{"N":"0"}}' \
  --update-expression 'SET amount = :v' --expression-attribute-values '{":v":{"N":"1"}}' >/dev/null
sleep 1
expect_exit 0 tidemark-export --table Sales --to "s3://$bucket/nightly/sales" --incremental --from "$t_enabled"
idir=$OUT
iid=$(basename "$idir")
"$AWS" --endpoint-url "$EP" s3 ls --recursive "s3://$bucket/nightly/sales/AWSDynamoDB/data/" >"$work/ls2.txt"
[ -s "$work/ls2.txt" ] || fail "no incremental data files in the shared folder"
expect_exit 0 tidemark-export verify "$idir"
assert_contains "$OUT" "$want_n items"   # every item was inserted inside the window
expect_exit 0 tidemark-export list "s3://$bucket/nightly/sales"
assert_contains "$OUT" "$id"
assert_contains "$OUT" "$iid"
assert_contains "$OUT" "INCREMENTAL_EXPORT"

# 4. Killed midway on S3, resumed.
TIDEMARK_EXPORT_DELAY_MS=30 tidemark-export --table Sales --to "s3://$bucket/killed" --jobs 4 \
  --max-file-size 8K >/dev/null 2>&1 &
pid=$!
# The state is read where s3rver keeps the object (its file store): an `aws s3 cp` per poll took
# seconds on a loaded machine, and the export could end between two polls.
st=
for _ in $(seq 1 600); do
  st=$(ls "$work"/s3rver/"$bucket"/killed/AWSDynamoDB/*/tidemark-export-state.json._S3rver_object \
    2>/dev/null | head -1 || true)
  if [ -n "$st" ] && grep -q '"partitionsDone":\[[0-9]' "$st"; then break; fi
  kill -0 "$pid" 2>/dev/null || fail "the export ended before it could be killed mid-way"
  sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ -n "$st" ] || fail "no export state to kill at"
kid=$(basename "$(dirname "$st")")
kdir="s3://$bucket/killed/AWSDynamoDB/$kid"
expect_exit 0 tidemark-export describe "$kdir"
assert_contains "$OUT" "FAILED"
expect_exit 1 tidemark-export verify "$kdir"
expect_exit 0 tidemark-export --resume "$kdir"
expect_exit 0 tidemark-export verify "$kdir"
"$AWS" --endpoint-url "$EP" s3 cp --only-show-errors --recursive "s3://$bucket/killed/" "$work/kdl/"
"$PY" "$RX" export "$work/kdl/AWSDynamoDB/$kid" >"$work/kgot"
tidemark scan --table Sales | "$PY" "$RX" lines >"$work/want2"
cmp -s "$work/want2" "$work/kgot" || fail "resumed S3 export differs"

# Every request passed the strict signature check.
bad=$(grep -c '^REJECT' "$work/sigv4.log" || true)
[ "$bad" -eq 0 ] || { grep '^REJECT' "$work/sigv4.log" | head >&2; fail "requests refused by the SigV4 proxy"; }
echo "export_s3: $(grep -c '^OK' "$work/sigv4.log") signed requests verified; ok"
