#!/usr/bin/env bash
# export_basic.sh: full exports to a directory as a person runs them, read back with an
# independent reader (tests/export/read_export.py: Debian's python3 gzip/json/hashlib) and
# compared with `tidemark scan`; gzip and zstd; layout and byte rules; list/describe/verify;
# usage errors and exit codes; the real AWS exports when ../shared/aws-samples exists.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
PY=/usr/bin/python3
RX="$TM_ROOT/tests/export/read_export.py"
GEN="$TM_ROOT/tests/export/gen_items.py"
make_home
work=$TM_HOME/work
mkdir -p "$work"

tidemark create-table --table Things --key pk:S --sort-key sk:N >/dev/null
"$PY" "$GEN" 1500 >"$work/items.jsonl"
tidemark batch-write --table Things --file "$work/items.jsonl" >/dev/null 2>&1
tidemark update-item --table Things --key '{"pk":{"S":"u00-\u00e9\"q\\0"},"sk":{"N":"0"}}' \
  --update-expression 'SET ver = :v' --expression-attribute-values '{":v":{"N":"9"}}' >/dev/null
tidemark delete-item --table Things --key '{"pk":{"S":"u01-\u00e9\"q\\1"},"sk":{"N":"1"}}' >/dev/null
tidemark scan --table Things | "$PY" "$RX" lines >"$work/want"
[ "$(wc -l <"$work/want")" -eq 1499 ] || fail "scan gave $(wc -l <"$work/want") items"

# 1. gzip, 3 jobs: stdout is the export's directory; stderr one summary line (not a terminal).
expect_exit 0 tidemark-export --table Things --to "$work/dest" --jobs 3
dir=$OUT
assert_contains "$dir" "$work/dest/AWSDynamoDB/"
[ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ] || fail "more than one line on stderr"
assert_contains "$ERR" "tidemark-export: exported Things (FULL_EXPORT): 1499 items in"
"$PY" "$RX" export "$dir" >"$work/got" || fail "read_export rejected the export"
cmp -s "$work/want" "$work/got" || { diff "$work/want" "$work/got" | head; fail "export != scan"; }
ls "$dir/data" | grep -Eqv '^[a-z2-7]{26}\.json\.gz$' && fail "data file names"
[ "$(ls "$dir/data" | wc -l)" -ge 3 ] || fail "3 jobs: at least 3 partitions"
[ -f "$dir/tidemark-schema.json" ] || fail "no tidemark-schema.json"
assert_contains "$(cat "$dir/tidemark-schema.json")" '"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"}],"ExportTime":"'
# zcat reads every data file (one gzip member each: read_export.py checks it).
[ "$(zcat "$dir"/data/*.json.gz | wc -l)" -eq 1499 ] || fail "zcat line count"
# ARNs: defaults, then --region/--account and the environment.
"$PY" "$RX" summary "$dir" | grep -qx 'exportArn=arn:aws:dynamodb:us-east-1:000000000000:table/Things/export/'"$(basename "$dir")" \
  || fail "default ARN"

# 2. zstd, region and account.
expect_exit 0 tidemark-export --table Things --to "$work/dest" --compression zstd --region eu-west-3 --account 123456789012
zdir=$OUT
ls "$zdir/data" | grep -Eqv '^[a-z2-7]{26}\.json\.zst$' && fail "zstd file names"
"$PY" "$RX" export "$zdir" >"$work/got" || fail "read_export rejected the zstd export"
cmp -s "$work/want" "$work/got" || fail "zstd export != scan"
"$PY" "$RX" summary "$zdir" | grep -q '^tableArn=arn:aws:dynamodb:eu-west-3:123456789012:table/Things$' || fail "--region/--account"
AWS_REGION=ap-south-1 TIDEMARK_ACCOUNT=222233334444 expect_exit 0 tidemark-export --table Things --to "$work/dest2"
"$PY" "$RX" summary "$OUT" | grep -q '^tableArn=arn:aws:dynamodb:ap-south-1:222233334444:table/Things$' || fail "ARN from env"

# 3. verify, describe, list.
expect_exit 0 tidemark-export verify "$dir"
assert_contains "$OUT" "OK $dir: "
assert_contains "$OUT" "1499 items"
expect_exit 0 tidemark-export verify --json "$zdir"
assert_contains "$(jc "$OUT")" '"Valid":true'
expect_exit 0 tidemark-export describe --json "$dir"
assert_contains "$(jc "$OUT")" '"ExportStatus":"COMPLETED"'
assert_contains "$(jc "$OUT")" '"ItemCount":1499'
assert_contains "$(jc "$OUT")" '"ExportType":"FULL_EXPORT"'
expect_exit 0 tidemark-export describe "$dir"
assert_contains "$OUT" "Status:          COMPLETED"
expect_exit 0 tidemark-export list "$work/dest"
[ "$(printf '%s\n' "$OUT" | grep -c COMPLETED)" -eq 2 ] || fail "list shows 2 exports"
expect_exit 0 tidemark-export list --json "$work/dest"
assert_contains "$(jc "$OUT")" '{"ExportSummaries":[{"ExportArn":"arn:aws:dynamodb:'
expect_exit 0 tidemark-export list "$work/nothing-here"

# 4. A damaged export fails verify (exit 1), naming the file.
f=$(ls "$dir"/data/*.json.gz | head -1)
printf 'garbage' >>"$f"
expect_exit 1 tidemark-export verify "$dir"
assert_contains "$OUT" "PROBLEM AWSDynamoDB/"
assert_contains "$OUT" "md5Checksum"

# 5. Usage errors (exit 2) and failures (exit 1), with the program's name first.
expect_exit 2 tidemark-export --to "$work/x"
assert_contains "$ERR" "tidemark-export: --table is required"
expect_exit 2 tidemark-export --table Things
expect_exit 2 tidemark-export --table Things --to "$work/x" --compression lz4
expect_exit 2 tidemark-export --table Things --to "$work/x" --jobs 0
expect_exit 2 tidemark-export --table Things --to "$work/x" --incremental
assert_contains "$ERR" "--incremental needs --from"
expect_exit 2 tidemark-export --table Things --to "$work/x" --from -1h
expect_exit 2 tidemark-export --table Things --to "$work/x" --time yesterday
expect_exit 2 tidemark-export frobnicate "$work/x"
expect_exit 2 tidemark-export --bogus
expect_exit 1 tidemark-export --table NoSuchTable --to "$work/x"
assert_contains "$ERR" "tidemark-export: export: "
expect_exit 1 tidemark-export describe "$work/x/AWSDynamoDB/01605130432834-8a918b87"
expect_exit 0 tidemark-export --help
assert_contains "$OUT" "Examples:"
assert_contains "$OUT" "any window inside the PITR window"
expect_exit 0 tidemark-export --version
assert_contains "$OUT" "tidemark-export (tidemark) "
# An export at a time needs PITR, which is off here.
expect_exit 1 tidemark-export --table Things --to "$work/x" --time -1m
assert_contains "$ERR" "point-in-time recovery is not enabled"
# ... as AWS says it (was ResourceNotFoundException): on stderr, and as the FAILED export's code
assert_contains "$ERR" "tidemark-export: export: PointInTimeRecoveryUnavailableException: "
expect_exit 1 tidemark-export --table Things --to "$work/x" --time -1m --json
assert_contains "$OUT" '"FailureCode": "PointInTimeRecoveryUnavailableException"'
expect_exit 1 tidemark-export --table Things --to "$work/x" --incremental --from -2h --until -1h
assert_contains "$ERR" "PointInTimeRecoveryUnavailableException: "
# 5b. The same contract as every program (issue 12): a bad table name is a usage error (was
# 1); no credentials is a failure (1) as in import; a typo gets "did you mean"; a failed
# export under --json still prints its ExportDescription, FAILED, on stdout (it printed
# nothing); --quiet prints nothing on stderr on success; list/describe/verify refuse a --data
# that does not exist (it listed nothing, as if empty).
expect_exit 2 tidemark-export --table x --to "$work/x"
assert_contains "$ERR" "table name 'x'"
expect_exit 1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE -u AWS_SESSION_TOKEN \
  AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent HOME=/nonexistent \
  tidemark-export --table Things --to s3://no-credentials/x
assert_contains "$ERR" "no AWS credentials"
expect_exit 2 tidemark-export --tabel Things --to "$work/x"
assert_contains "$ERR" "did you mean '--table'?"
expect_exit 2 tidemark-export lst "$work/dest"
assert_contains "$ERR" "did you mean 'list'?"
expect_exit 1 tidemark-export --table NoSuchTable --to "$work/x" --json
assert_contains "$(jc "$OUT")" '"ExportStatus":"FAILED"'
assert_contains "$(jc "$OUT")" '"FailureCode":"TableNotFoundException"'
assert_contains "$(jc "$OUT")" '"TableArn":"arn:aws:dynamodb:'
expect_exit 0 tidemark-export --table Things --to "$work/quiet" --quiet
assert_eq "" "$ERR" "stderr of a --quiet export"
[ -d "$OUT" ] || fail "a --quiet export still prints its directory: [$OUT]"
expect_exit 1 tidemark-export list "$work/dest" --data "$work/no-such-home"
assert_contains "$ERR" "no tidemark data directory at $work/no-such-home"

# 6. The real AWS exports (reference data outside the project), when present.
samples="$TM_ROOT/../shared/aws-samples"
if [ -d "$samples" ]; then
  expect_exit 0 tidemark-export verify "$samples/full-export-with-prefix-2020/demo_prefix/AWSDynamoDB/01605130432834-8a918b87"
  assert_contains "$OUT" "4 data files, 3 items"
  expect_exit 1 tidemark-export verify "$samples/manifests-only-2022"
  assert_contains "$OUT" "enpvklgbwq7gta42yshirxd6ea.json.gz: missing data file"
  expect_exit 0 tidemark-export describe --json "$samples/manifests-only-2022"
  assert_contains "$(jc "$OUT")" '"ItemCount":6'
  echo "export_basic: AWS samples verified"
fi
echo "export_basic: ok"
