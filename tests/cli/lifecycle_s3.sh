#!/usr/bin/env bash
# lifecycle_s3.sh (issue 15): tidemark-lifecycle apply against s3rver (through the strict SigV4
# proxy, tests/s3/lib.sh): a dry run changes nothing; a disabled rule and a rule of another
# prefix do nothing; a transition is a CopyObject of every object onto itself with the new
# class (x-amz-metadata-directive: REPLACE: s3rver insists), after which the export still
# verifies; a full export and its incremental expire together (the dry run says why the full
# one is kept), and expiration deletes the summary first.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
AWS=/usr/bin/aws
make_home
work=$TM_HOME/work
mkdir -p "$work"
aws_env S3RVER S3RVER
bucket=tidemark-life
start_s3 "$work" "$bucket"
export AWS_ENDPOINT_URL_S3=$S3_EP
EP=$AWS_ENDPOINT_URL_S3
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
T=s3://$bucket/nightly/t1
classes() {   # the storage classes of every object of an export, by HEAD (s3rver's listing says STANDARD)
  local k
  for k in $("$AWS" --endpoint-url "$EP" s3api list-objects-v2 --bucket "$bucket" \
               --prefix "nightly/t1/AWSDynamoDB/$1/" --query 'Contents[].Key' --output text); do
    "$AWS" --endpoint-url "$EP" s3api head-object --bucket "$bucket" --key "$k" --query StorageClass --output text
  done | sed 's/^None$/STANDARD/' | sort -u | tr '\n' ' '
}
objects() { "$AWS" --endpoint-url "$EP" s3 ls --recursive "s3://$bucket/nightly/t1/AWSDynamoDB/$1" | wc -l; }

at 2025-01-01T00:00:00Z tidemark create-table --table Life --key k:N >/dev/null
at 2025-01-01T00:00:00Z tidemark pitr enable --table Life >/dev/null
for i in $(seq 1 50); do echo "{\"k\":{\"N\":\"$i\"},\"v\":{\"S\":\"one\"}}"; done |
  at 2025-01-01T01:00:00Z tidemark batch-write --table Life --file - >/dev/null 2>&1
expect_exit 0 at 2025-01-01T02:00:00Z tidemark-export --table Life --to "$T" -q
full=$(basename "$OUT")
for i in $(seq 1 20); do echo "{\"k\":{\"N\":\"$i\"},\"v\":{\"S\":\"two\"}}"; done |
  at 2025-01-15T01:00:00Z tidemark batch-write --table Life --file - >/dev/null 2>&1
expect_exit 0 at 2025-01-20T00:00:00Z tidemark-export --table Life --to "$T" --incremental \
  --from 2025-01-14T00:00:00Z --until 2025-01-19T00:00:00Z -q
inc=$(basename "$OUT")
assert_eq "STANDARD " "$(classes "$full")"
R=$work/rules.json
rules() { echo "{\"Rules\":[$1]}" > "$R"; }

# ---- a disabled rule and a rule of another prefix do nothing
rules '{"ID":"off","Status":"Disabled","Prefix":"nightly/","Transitions":[{"Days":1,"StorageClass":"STANDARD_IA"}],"Expiration":{"Days":2}},
       {"ID":"other","Status":"Enabled","Filter":{"Prefix":"weekly/"},"Expiration":{"Days":1}}'
expect_exit 0 at 2025-03-01T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$T" --json
assert_eq 0 "$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["Actions"])' "$OUT")" "actions of disabled/other-prefix rules"
assert_eq "STANDARD " "$(classes "$full")"

# ---- transition: the dry run says it and changes nothing; then CopyObject with the new class
rules '{"ID":"ia","Status":"Enabled","Filter":{"Prefix":"nightly/"},"Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}]}'
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$T" --dry-run
assert_contains "$OUT" "44 days old, transition at 30 days to STANDARD_IA"
assert_eq "STANDARD " "$(classes "$full")" "after a dry run"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$T" --json
assert_eq "STANDARD_IA " "$(classes "$full")" "after the transition"
assert_eq "STANDARD " "$(classes "$inc")" "the incremental (27 days old)"
grep -q "^OK PUT /$bucket/nightly/t1/AWSDynamoDB/$full/manifest-summary.json" "$work/sigv4.log" || fail "no CopyObject of the summary"
expect_exit 0 tidemark-export verify "$T/AWSDynamoDB/$full"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle report --target "$T" --json
assert_contains "$OUT" '"StorageClass":	"STANDARD_IA"'

# ---- a chain expires whole: the full export waits for its incremental
rules '{"ID":"exp","Status":"Enabled","Prefix":"nightly/","Expiration":{"Days":40}}'
expect_exit 0 at 2025-02-20T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$T" --dry-run
assert_contains "$OUT" "kept with its chain (full export $full and its incrementals)"
expect_exit 0 at 2025-02-20T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$T"
[ "$(objects "$full")" -gt 0 ] || fail "the full export went before its incremental"
: > "$work/sigv4.log"
expect_exit 0 at 2025-03-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$T"
assert_eq 0 "$(objects "$full")" "objects of the expired full export"
assert_eq 0 "$(objects "$inc")" "objects of the expired incremental"
# expiration deletes each export's summary before anything else of it
$PY - "$work/sigv4.log" "$full" "$inc" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.startswith(("OK DELETE", "OK POST"))]
assert lines and lines[0][2].endswith("/manifest-summary.json"), lines[:3]
for eid in sys.argv[2:]:
    mine = [l[2] for l in lines if "/%s/" % eid in l[2]]
    assert mine and mine[0].endswith("/%s/manifest-summary.json" % eid), (eid, mine)
PY
bad=$(grep -c '^REJECT' "$work/sigv4.log" || true)
[ "$bad" -eq 0 ] || fail "requests refused by the SigV4 proxy"
echo "lifecycle_s3: ok"
