#!/usr/bin/env bash
# rollback_s3.sh: tidemark-rollback and forward apply from exports that live on an
# S3-compatible server (s3rver behind the strict SigV4 proxy, tests/s3/lib.sh): the rollback
# read from s3:// gives the state before the bad load; a data file corrupted on the server
# stops the rollback before any write (the log's last seq unchanged); a full export and an
# incremental on s3:// replay onto a new table. AWS's own incremental sample: SKIP, none in
# ../shared/aws-samples (only full exports there).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
AWS=/usr/bin/aws
make_home
W=$TM_HOME/work
mkdir -p "$W"
[ -f "$TM_ROOT/.deps/node_modules/s3rver/bin/s3rver.js" ] || { echo "SKIP: s3rver not installed (make deps)"; exit 0; }
aws_env S3RVER S3RVER
bucket=tidemark-undo
start_s3 "$W" "$bucket"
export AWS_ENDPOINT_URL_S3=$S3_EP
now() { "$PY" -c 'import time; print("%.6f" % time.time())'; }
lastseq() { tidemark log list --table "$1" | tail -1; }
state() { tidemark scan --table "$1" | sort; }

tidemark create-table --table Orders --key pk:S >/dev/null
tidemark pitr enable --table Orders >/dev/null
for i in $(seq -w 1 40); do echo "{\"pk\":{\"S\":\"k$i\"},\"v\":{\"N\":\"$i\"}}"; done | tidemark batch-write --table Orders --file - >/dev/null 2>&1
sleep 0.05; t0=$(now); sleep 0.05
for i in $(seq -w 1 25); do echo "{\"pk\":{\"S\":\"k$i\"},\"v\":{\"N\":\"-1\"},\"bad\":{\"BOOL\":true}}"; done | tidemark batch-write --table Orders --file - >/dev/null 2>&1
tidemark delete-item --table Orders --key '{"pk":{"S":"k40"}}' >/dev/null
sleep 0.05; t1=$(now)
expect_exit 0 tidemark-restore --table Orders --target Before --time "$t0" -q
expect_exit 0 tidemark-export --table Orders --to "s3://$bucket/undo" --time "$t0" -q
FULL=$OUT
expect_exit 0 tidemark-export --table Orders --to "s3://$bucket/undo" --incremental --from "$t0" --until "$t1" -q
E=$OUT
assert_contains "$E" "s3://$bucket/undo/AWSDynamoDB/"

# 1. a data file altered on the server: refused before any write
"$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 ls --recursive "s3://$bucket/undo/AWSDynamoDB/data/" >"$W/ls"
key=$(awk '$3 > 20 {print $4; exit}' "$W/ls")
[ -n "$key" ] || fail "no data file of the incremental export on the server"
"$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 cp --only-show-errors "s3://$bucket/$key" "$W/good.gz"
printf 'garbage' | cat "$W/good.gz" - >"$W/bad.gz"
"$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 cp --only-show-errors "$W/bad.gz" "s3://$bucket/$key"
seq0=$(lastseq Orders)
expect_exit 1 tidemark-rollback --from "$E" --table Orders
assert_contains "$ERR" "md5Checksum"
assert_eq "$seq0" "$(lastseq Orders)" "a rollback from a damaged export wrote"
"$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 cp --only-show-errors "$W/good.gz" "s3://$bucket/$key"

# 2. the rollback from s3:// gives the state before the load
expect_exit 0 tidemark-rollback --from "$E" --table Orders
assert_contains "$ERR" "26 of 26 records chosen: 26 restored, 0 deleted"
state Orders | cmp -s - <(state Before) || fail "the table is not as before the load"

# 3. replay from s3://: the full export imported, the incremental applied
expect_exit 0 tidemark-import --from "$FULL" --table Replay -q
expect_exit 0 tidemark-import --apply-incremental "$E" --table Replay
tidemark-rollback --from "$E" --table Orders --direction apply -q >/dev/null 2>&1 || true   # Orders after the load again
state Replay | cmp -s - <(state Orders) || fail "the replay from s3:// is not the table after the load"
grep -q ' 403 \| 401 ' "$W/sigv4.log" && fail "a request failed the SigV4 check"

# 4. AWS's own incremental export
if [ -d "$TM_ROOT/../shared/aws-samples" ] && ls -d "$TM_ROOT"/../shared/aws-samples/*incremental* >/dev/null 2>&1; then
  fail "an AWS incremental sample exists: add its rollback here"
fi
echo "SKIP: no AWS incremental export in ../shared/aws-samples (its rollback is untested)"
echo "rollback_s3: ok"
