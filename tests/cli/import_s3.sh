#!/usr/bin/env bash
# import_s3.sh: imports from an S3-compatible server through the strict SigV4 proxy
# (tests/s3/lib.sh: s3rver on 127.0.0.1 <- sigv4_proxy.py <- tidemark-import, aws-cli).
#   - a tidemark export written straight to S3, imported without flags
#   - the real AWS sample (when ../shared/aws-samples exists) uploaded with aws-cli
#   - a single object, a plain prefix of objects, an archive object, a CSV object
#   - error pointers name the bucket and the full key; a wrong secret is refused, no table
#   - a failure with --json names the bucket and prefix given; a server's error message that
#     echoes credentials is shown with them redacted
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
make_home
work=$(mktemp -d /tmp/import_s3.XXXXXX)
trap 'rc=$?; s3_cleanup; rm -rf "$work"; _tm_cleanup; exit $rc' EXIT
MK="python3 $TM_ROOT/tests/import/mkexport.py"
aws_env S3RVER S3RVER
bucket=imports
start_s3 "$work" "$bucket"
EP=$S3_EP
export AWS_ENDPOINT_URL_S3=$EP
aws3() { /usr/bin/aws --endpoint-url "$EP" "$@"; }
same_items() {
  tidemark scan --table "$1" | $MK canon > "$work/got"
  $MK canon < "$2" > "$work/want"
  cmp -s "$work/got" "$work/want" || { diff "$work/want" "$work/got" | head -5; fail "table $1 differs from $2"; }
}
cd "$work"
$MK items 400 > items.jsonl

# 1. tidemark-export to S3, then import from there without --key
tidemark create-table --table Src --key pk:S --sort-key sk:N >/dev/null
tidemark batch-write --table Src --file items.jsonl 2>/dev/null
expect_exit 0 tidemark-export --table Src --to "s3://$bucket/exports" --jobs 2
id=$(aws3 s3 ls "s3://$bucket/exports/AWSDynamoDB/" | awk '/PRE/ {print $2}' | head -1)
id=${id%/}
[ -n "$id" ] || fail "no export on S3"
expect_exit 0 tidemark-import --from "s3://$bucket/exports/AWSDynamoDB/$id" --table FromS3 --json
same_items FromS3 items.jsonl
assert_contains "$(jc "$OUT")" "\"S3BucketSource\":{\"S3Bucket\":\"$bucket\",\"S3KeyPrefix\":\"exports/AWSDynamoDB/$id\"}"
# the bucket prefix above the export holds exactly one: that works too
expect_exit 0 tidemark-import --from "s3://$bucket/exports/" --table FromS3b
same_items FromS3b items.jsonl

# 2. the real AWS export, uploaded as it was in its bucket
S="$TM_ROOT/../shared/aws-samples"
if [ -d "$S" ]; then
  aws3 s3 cp --only-show-errors --recursive "$S/full-export-with-prefix-2020/" "s3://$bucket/"
  expect_exit 0 tidemark-import --from "s3://$bucket/demo_prefix/AWSDynamoDB/01605130432834-8a918b87/" --table Aws --key pk:S --sort-key sk:S
  assert_eq 3 "$(tidemark scan --table Aws | wc -l)"
  aws3 s3 cp --only-show-errors --recursive "$S/manifests-only-2022/" "s3://$bucket/m22/"
  expect_exit 1 tidemark-import --from "s3://$bucket/m22" --table Aws22 --key pk:S
  assert_contains "$ERR" "data file data/enpvklgbwq7gta42yshirxd6ea.json.gz listed in manifest-files.json is missing from s3://$bucket/m22"
fi

# 3. one object, a plain prefix, an archive, CSV
gzip -c items.jsonl > one.json.gz
head -n 200 items.jsonl | zstd -q > part-1.json.zst
tail -n +201 items.jsonl > part-2.json
tar cf - items.jsonl | zstd -q > dump.tar.zst
printf 'id,v\n1,"a,b"\n2,c\n' > t.csv
# a zip whose symbolic link is found in its central directory (ranged GETs of the tail)
python3 -c '
import zipfile
with zipfile.ZipFile("links.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("a.json", open("items.jsonl", "rb").read())
    zi = zipfile.ZipInfo("b.json"); zi.create_system = 3; zi.external_attr = 0o120777 << 16
    z.writestr(zi, "a.json")'
for f in one.json.gz part-1.json.zst part-2.json dump.tar.zst t.csv links.zip; do
  k=$f; case $f in part-*) k=dump/$f ;; esac
  aws3 s3 cp --only-show-errors "$f" "s3://$bucket/$k"
done
expect_exit 0 tidemark-import --from "s3://$bucket/one.json.gz" --table One --key pk:S --sort-key sk:N
same_items One items.jsonl
expect_exit 0 tidemark-import --from "s3://$bucket/dump/part-" --table Parts --key pk:S --sort-key sk:N
same_items Parts items.jsonl
assert_contains "$ERR" "from 2 files"
expect_exit 0 tidemark-import --from "s3://$bucket/dump.tar.zst" --table Tarred --key pk:S --sort-key sk:N
same_items Tarred items.jsonl
expect_exit 1 tidemark-import --from "s3://$bucket/links.zip" --table Zipped --key pk:S --sort-key sk:N
assert_eq "tidemark-import: import failed: s3://$bucket/links.zip: archive entry b.json is a symbolic link to a.json: links in an archive are never followed; make the archive with the files themselves (tar -h, zip without -y)" "$ERR"
expect_exit 0 tidemark-import --from "s3://$bucket/t.csv" --input-format CSV --table Csv --key id:N
assert_eq 2 "$(tidemark scan --table Csv | wc -l)"

# 4. error pointers: bucket and the full key
printf '%s\n' '{"Item":{"sk":{"N":"1"}}}' | gzip > bad.json.gz
aws3 s3 cp --only-show-errors bad.json.gz "s3://$bucket/in/bad.json.gz"
expect_exit 3 tidemark-import --from "s3://$bucket/in/bad.json.gz" --table BadS3 --key pk:S --error-log e.jsonl
assert_eq "{\"itemS3Pointer\":{\"bucket\":\"$bucket\",\"key\":\"in/bad.json.gz\",\"itemIndex\":0},\"errorMessages\":[\"One or more parameter values were invalid: Missing the key pk in the item\"]}" "$(cat e.jsonl)"

# every request passed the strict signature check
[ -s "$work/sigv4.log" ] || fail "no requests reached the proxy"
if grep -q '^REJECT' "$work/sigv4.log"; then grep '^REJECT' "$work/sigv4.log" >&2; fail "requests refused by the SigV4 proxy"; fi
echo "import_s3: sigv4 proxy: $(grep -c '^OK' "$work/sigv4.log") requests verified"

# 5. a wrong secret: refused, named, no table
AWS_SECRET_ACCESS_KEY=wrong expect_exit 1 tidemark-import --from "s3://$bucket/one.json.gz" --table Wrong --key pk:S --sort-key sk:N
assert_contains "$ERR" "SignatureDoesNotMatch"
if printf '%s' "$ERR" | grep -q wrong; then fail "the secret appears in the error"; fi
tidemark describe-table --table Wrong >/dev/null 2>&1 && fail "table Wrong exists"
expect_exit 1 tidemark-import --from "s3://$bucket/nothing/here.json" --table Nothing --key pk:S
assert_contains "$ERR" "s3://$bucket/nothing/here.json: no such object, directory or prefix"

# 6. a failure before the source opened: --json still names the bucket and prefix given
expect_exit 1 tidemark-import --from "s3://$bucket/nothing/here/" --table Nothing --key pk:S --json
assert_contains "$(jc "$OUT")" '"ImportStatus":"FAILED"'
assert_contains "$(jc "$OUT")" "\"S3BucketSource\":{\"S3Bucket\":\"$bucket\",\"S3KeyPrefix\":\"nothing/here\"}"

# 7. a server whose error message echoes credentials: the secret, the session token, the
# signature and the key id never reach the output (fault proxy: 403 with such a <Message>)
secret=Sx9kQ2vLr8TzW4nB7mYc1pHd6fJ0aE3uG5oI8sXw
token=IQoJb3JpZ2luX2VjEJr7TESTSESSIONTOKEN0123456789
s3_start_fault "$SIGV4_PORT" "$work/echo.log" --rate 1 --faults 403 \
  --message "denied: you sent secret $secret, {authorization}, token {token}, key AKIAIOSFODNN7EXAMPLE, url ?X-Amz-Signature=0123abcd&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2025"
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$FAULT_PORT AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token \
  expect_exit 1 tidemark-import --from "s3://$bucket/one.json.gz" --table Echo --key pk:S --sort-key sk:N --json
grep -q "^403 GET\|^403 HEAD" "$work/echo.log" || fail "the fault proxy answered no request"
assert_contains "$ERR" "HTTP 403 AccessDenied: denied: you sent secret [redacted], AWS4-HMAC-SHA256 Credential=[redacted]"
assert_contains "$ERR" "Signature=[redacted]"
assert_contains "$ERR" "token [redacted], key AKIA[redacted], url ?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]"
for leak in "$secret" "$token" AKIAIOSFODNN7EXAMPLE 0123abcd; do
  case "$OUT$ERR" in *"$leak"*) fail "credential $leak in the output" ;; esac
done
if printf '%s' "$ERR" | grep -Eq 'Signature=[0-9a-f]{16}'; then fail "a signature in the output"; fi
echo "import_s3: ok"
