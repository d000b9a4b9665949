#!/usr/bin/env bash
# import_bad_input.sh: every kind of bad input, each checked for its exact error, its exit code,
# its FailureCode, and for leaving no table (nor a staging directory) behind.
#   files: not gzip, truncated gzip, corrupt gzip, truncated zstd; bad items (exit 3, error log);
#   --max-errors; manifests: MD5 mismatch, count mismatch, key outside the export, incomplete
#   export, altered manifest, missing data file; an existing table; bombs (ratio, total); long
#   lines; archives with absolute and ".." entries; SIGINT and SIGKILL mid-import.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
make_home
MK="python3 $TM_ROOT/tests/import/mkexport.py"
W="$TM_HOME/w"; mkdir -p "$W"; cd "$W"
KEYS=(--key pk:S --sort-key sk:N)

no_table() {  # name: absent, and nothing staged left in tables/
  tidemark describe-table --table "$1" >/dev/null 2>&1 && fail "table $1 exists after a failure"
  if [ -d "$TM_HOME/tables" ]; then
    local left; left=$(ls -A "$TM_HOME/tables" | grep '^\.' || true)
    [ -z "$left" ] || fail "staging left behind: $left"
  fi
  return 0
}
failed_json() {  # code: the --json output says FAILED with that FailureCode
  assert_contains "$(jc "$OUT")" '"ImportStatus":"FAILED"'
  assert_contains "$(jc "$OUT")" "\"FailureCode\":\"$1\""
}

$MK items 40 > items.jsonl

# ---- malformed files: an error naming the file, exit 1, no table
cp items.jsonl notgz.json.gz
expect_exit 1 tidemark-import --from notgz.json.gz --table Bad1 "${KEYS[@]}" --json
assert_eq "tidemark-import: import failed: $W/notgz.json.gz: not gzip (no gzip magic bytes)" "$ERR"
failed_json InvalidDataFile; no_table Bad1
expect_exit 1 tidemark-import --from items.jsonl --compression gzip --table Bad1 "${KEYS[@]}"
assert_eq "tidemark-import: import failed: $W/items.jsonl: not gzip (no gzip magic bytes)" "$ERR"
no_table Bad1
gzip -c items.jsonl | head -c 500 > trunc.json.gz
expect_exit 1 tidemark-import --from trunc.json.gz --table Bad1 "${KEYS[@]}"
assert_eq "tidemark-import: import failed: $W/trunc.json.gz: truncated gzip data (ends at byte 500)" "$ERR"
no_table Bad1
gzip -c items.jsonl > corrupt.json.gz
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; b[len(b)//2+1]^=0x55; open(p,"wb").write(b)' corrupt.json.gz
expect_exit 1 tidemark-import --from corrupt.json.gz --table Bad1 "${KEYS[@]}"
assert_contains "$ERR" "tidemark-import: import failed: $W/corrupt.json.gz: bad gzip data near byte"
no_table Bad1
zstd -q -c items.jsonl | head -c 300 > trunc.json.zst
expect_exit 1 tidemark-import --from trunc.json.zst --table Bad1 "${KEYS[@]}"
assert_eq "tidemark-import: import failed: $W/trunc.json.zst: truncated zstd data (ends at byte 300)" "$ERR"
no_table Bad1
expect_exit 1 tidemark-import --from "$W/nothing-here.json" --table Bad1 "${KEYS[@]}"
assert_eq "tidemark-import: import failed: $W/nothing-here.json: no such object, directory or prefix" "$ERR"
no_table Bad1

# ---- bad items: skipped, counted, logged AWS-style; exit 3; the good ones imported
{
  echo 'hello'
  echo '{"Item":{"pk":{"S":"a"},"sk":{"N":"1"}}}'
  echo '{"Item":{"sk":{"N":"1"}}}'
  echo '{"Item":{"pk":{"N":"1"},"sk":{"N":"1"}}}'
  echo ''
  echo '{"Item":{"pk":{"S":""},"sk":{"N":"1"}}}'
  echo '{"Item":{"pk":{"S":"b"},"sk":{"N":"1"},"x":{"N":"1e400"}}}'
  echo '{"Item":{"pk":{"S":"c"},"sk":{"N":"2"}}}'
} > mixed.json
expect_exit 3 tidemark-import --from mixed.json --table Mixed "${KEYS[@]}" --error-log err.jsonl --json
assert_contains "$(jc "$OUT")" '"ImportStatus":"COMPLETED"'
assert_contains "$(jc "$OUT")" '"ErrorCount":5,'
assert_contains "$(jc "$OUT")" '"ProcessedItemCount":7,'
assert_contains "$(jc "$OUT")" '"ImportedItemCount":2'
assert_contains "$ERR" "imported 2 items into Mixed (2 in the table, 5 rejected)"
assert_contains "$ERR" "rejected: $W/mixed.json item 2: One or more parameter values were invalid: Missing the key pk in the item"
P="{\"itemS3Pointer\":{\"bucket\":\"w\",\"key\":\"$W/mixed.json\",\"itemIndex\""
assert_eq "$P:0},\"errorMessages\":[\"Invalid DynamoDB JSON item: invalid JSON at offset 0: expected '{'\"]}" "$(sed -n 1p err.jsonl)"
assert_eq "$P:2},\"errorMessages\":[\"One or more parameter values were invalid: Missing the key pk in the item\"]}" "$(sed -n 2p err.jsonl)"
assert_eq "$P:3},\"errorMessages\":[\"One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N\"]}" "$(sed -n 3p err.jsonl)"
assert_eq "$P:5},\"errorMessages\":[\"One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk\"]}" "$(sed -n 4p err.jsonl)"
assert_contains "$(sed -n 5p err.jsonl)" "$P:6},\"errorMessages\":[\"Invalid DynamoDB JSON item: "
assert_contains "$(sed -n 5p err.jsonl)" "'x'"
assert_eq 5 "$(wc -l < err.jsonl)"
assert_eq 2 "$(tidemark scan --table Mixed | wc -l)"
# --max-errors: more than N rejected -> FAILED, no table; exactly N -> fine
expect_exit 1 tidemark-import --from mixed.json --table Bad2 "${KEYS[@]}" --max-errors 4 --json
assert_contains "$ERR" "tidemark-import: import failed: more than 4 item errors (--max-errors); the last: $W/mixed.json item 6: Invalid DynamoDB JSON item:"
failed_json ItemValidationError; no_table Bad2
expect_exit 1 tidemark-import --from mixed.json --table Bad2 "${KEYS[@]}" --max-errors 0
assert_contains "$ERR" "more than 0 item errors (--max-errors); the last: $W/mixed.json item 0:"
no_table Bad2
expect_exit 3 tidemark-import --from mixed.json --table Five "${KEYS[@]}" --max-errors 5

# ---- limits: long lines, decompression bombs
python3 -c 'print("{\"Item\":{\"pk\":{\"S\":\"" + "x"*300 + "\"},\"sk\":{\"N\":\"1\"}}}"); print("{\"Item\":{\"pk\":{\"S\":\"ok\"},\"sk\":{\"N\":\"2\"}}}")' > long.json
expect_exit 3 tidemark-import --from long.json --table Long "${KEYS[@]}" --max-line-bytes 200
assert_contains "$ERR" "rejected: $W/long.json item 0: Item line of 339 bytes is longer than the limit of 200 bytes"
assert_eq 1 "$(tidemark scan --table Long | wc -l)"
head -c $((256 << 20)) /dev/zero | tr '\0' '\n' | gzip -9 > bomb.json.gz     # 256 MiB of newlines in ~250 KiB
expect_exit 1 tidemark-import --from bomb.json.gz --table Bad3 "${KEYS[@]}" --max-ratio 200 --json
assert_contains "$ERR" "tidemark-import: import failed: $W/bomb.json.gz: decompression ratio above 200:1 after"
assert_contains "$ERR" "a compression bomb? (--max-ratio)"
failed_json DecompressionLimitExceeded; no_table Bad3
expect_exit 1 tidemark-import --from bomb.json.gz --table Bad3 "${KEYS[@]}" --max-decompressed 10M
assert_eq "tidemark-import: import failed: $W/bomb.json.gz: decompressed data exceeds the limit of 10485760 bytes (--max-decompressed)" "$ERR"
no_table Bad3

# ---- exports whose manifests do not hold
mkexp() { rm -rf "$W/$1"; $MK export --items items.jsonl --out "$W/$1" --files 2 --schema pk:S,sk:N; }
d=$(mkexp md5)
python3 - "$d/data/file00.json.gz" <<'PY'
import gzip, sys
p = sys.argv[1]
lines = gzip.decompress(open(p, "rb").read()).decode().splitlines()
lines[0] = lines[0].replace('"s":{"S":"h', '"s":{"S":"H')      # same item count, other bytes
open(p, "wb").write(gzip.compress(("\n".join(lines) + "\n").encode()))
PY
expect_exit 1 tidemark-import --from "$d" --table Bad4 --json
assert_contains "$ERR" "tidemark-import: import failed: $d/data/file00.json.gz: MD5 "
assert_contains "$ERR" "does not match md5Checksum"
assert_contains "$ERR" "in manifest-files.json (altered or truncated)"
failed_json ChecksumMismatch; no_table Bad4
d=$(mkexp count)
python3 - "$d" <<'PY'
import json, sys
d = sys.argv[1]
mf = open(d + "/manifest-files.json").read().splitlines()
o = json.loads(mf[0]); o["itemCount"] += 1; mf[0] = json.dumps(o, separators=(",", ":"))
open(d + "/manifest-files.json", "w").write("\n".join(mf) + "\n")
s = json.loads(open(d + "/manifest-summary.json").read()); s["itemCount"] += 1
open(d + "/manifest-summary.json", "w").write(json.dumps(s, separators=(",", ":")))
PY
$MK remd5 "$d"
expect_exit 1 tidemark-import --from "$d" --table Bad5 --json
assert_eq "tidemark-import: import failed: $d/data/file00.json.gz: 20 items, manifest-files.json says 21" "$ERR"
failed_json ItemCountMismatch; no_table Bad5
d=$(mkexp outside)
sed -i 's#"dataFileS3Key":"AWSDynamoDB/01700000000000-0123abcd/data/file01.json.gz"#"dataFileS3Key":"AWSDynamoDB/01700000000000-0123abcd/../../../etc/passwd"#' "$d/manifest-files.json"
$MK remd5 "$d"
expect_exit 1 tidemark-import --from "$d" --table Bad6
assert_eq "tidemark-import: import failed: $d: manifest-files.json line 2: dataFileS3Key \"AWSDynamoDB/01700000000000-0123abcd/../../../etc/passwd\" points outside the export (AWSDynamoDB/01700000000000-0123abcd/): refused" "$ERR"
no_table Bad6
sed -i 's#"dataFileS3Key":"AWSDynamoDB/01700000000000-0123abcd/../../../etc/passwd"#"dataFileS3Key":"other/AWSDynamoDB/x/data/file01.json.gz"#' "$d/manifest-files.json"
$MK remd5 "$d"
expect_exit 1 tidemark-import --from "$d" --table Bad6
assert_contains "$ERR" "dataFileS3Key \"other/AWSDynamoDB/x/data/file01.json.gz\" points outside the export"
no_table Bad6
d=$(mkexp altered)
echo >> "$d/manifest-files.json"
expect_exit 1 tidemark-import --from "$d" --table Bad7
assert_eq "tidemark-import: import failed: $d: manifest-files.json does not match its MD5 in manifest-files.md5 (altered or truncated)" "$ERR"
no_table Bad7
d=$(mkexp incomplete)
rm "$d/manifest-summary.json" "$d/manifest-summary.md5"
expect_exit 1 tidemark-import --from "$d" --table Bad8
assert_eq "tidemark-import: import failed: $d: the export is incomplete: manifest-files.json without manifest-summary.json (still running, or interrupted)" "$ERR"
no_table Bad8
d=$(mkexp missing)
rm "$d/data/file01.json.gz"
expect_exit 1 tidemark-import --from "$d" --table Bad9 --json
assert_eq "tidemark-import: import failed: data file data/file01.json.gz listed in manifest-files.json is missing from $d (dataFileS3Key AWSDynamoDB/01700000000000-0123abcd/data/file01.json.gz)" "$ERR"
failed_json DataFileNotFound; no_table Bad9

# ---- the target exists: refused, and the existing table is untouched
tidemark create-table --table Exists --key pk:S >/dev/null
tidemark put-item --table Exists --item '{"pk":{"S":"keep"}}' >/dev/null
expect_exit 1 tidemark-import --from items.jsonl --table Exists "${KEYS[@]}" --json
assert_eq "tidemark-import: import failed: table Exists already exists" "$ERR"
failed_json ResourceInUseException
assert_eq '{"Item":{"pk":{"S":"keep"}}}' "$(tidemark scan --table Exists)"

# ---- archives with hostile entry names
python3 - <<'PY'
import io, tarfile, zipfile
data = open("items.jsonl", "rb").read()
for name, bad in (("abs.tar", "/etc/evil.json"), ("dots.tar", "data/../../evil.json")):
    with tarfile.open(name, "w") as t:
        ti = tarfile.TarInfo("ok.json"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo(bad); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
with zipfile.ZipFile("dots.zip", "w") as z:
    z.writestr("../evil.json", data)
PY
expect_exit 1 tidemark-import --from abs.tar --table Bad10 "${KEYS[@]}"
assert_eq "tidemark-import: import failed: $W/abs.tar: archive entry \"/etc/evil.json\" has an absolute path: refused" "$ERR"
no_table Bad10
expect_exit 1 tidemark-import --from dots.tar --table Bad10 "${KEYS[@]}"
assert_eq "tidemark-import: import failed: $W/dots.tar: archive entry \"data/../../evil.json\" has a \"..\" or empty path segment: refused" "$ERR"
no_table Bad10
expect_exit 1 tidemark-import --from dots.zip --table Bad10 "${KEYS[@]}"
assert_contains "$ERR" "archive entry \"../evil.json\" has a \"..\" or empty path segment: refused"
no_table Bad10

# ---- usage errors (exit 2)
expect_exit 2 tidemark-import --table X1x "${KEYS[@]}"
assert_contains "$ERR" "--from is required"
expect_exit 2 tidemark-import --from items.jsonl --table X1x --key pk:Q
assert_contains "$ERR" "--key: key spec 'pk:Q'"
expect_exit 2 tidemark-import --from items.jsonl --table X1x --input-format ION
assert_contains "$ERR" "ION is not supported"
expect_exit 2 tidemark-import --from items.jsonl --table X1x --csv-header a,b
assert_contains "$ERR" "--csv-header is for --input-format CSV"
expect_exit 2 tidemark-import --from items.jsonl --table X1x --input-format CSV
assert_contains "$ERR" "CSV needs --key"
expect_exit 2 tidemark-import --from items.jsonl --table x "${KEYS[@]}"
assert_contains "$ERR" "table name 'x'"
expect_exit 0 tidemark-import --help
assert_contains "$OUT" "Examples:"
expect_exit 0 tidemark-import --version
assert_contains "$OUT" "tidemark-import (tidemark) "

# ---- interrupted: SIGINT stops it cleanly (no table); SIGKILL leaves no table either
python3 "$TM_ROOT/bench/gen_items.py" 300000 | gzip -1 > big.json.gz
for sig in INT KILL; do
  tidemark-import --from big.json.gz --table "Sig$sig" --key user_id:S --sort-key sk:S 2>"sig.err" &
  pid=$!
  sleep 0.6
  kill -s $sig $pid 2>/dev/null || true
  rc=0; wait $pid || rc=$?
  [ "$rc" -ne 0 ] || fail "import finished before SIG$sig: make big.json.gz bigger"
  tidemark describe-table --table "Sig$sig" >/dev/null 2>&1 && fail "table after SIG$sig"
  tidemark --json list-tables | grep -q "Sig$sig" && fail "SIG$sig: table listed"
  if [ $sig = INT ]; then
    assert_eq 1 "$rc" "exit status after SIGINT"
    assert_contains "$(cat sig.err)" "import failed: interrupted"
    no_table SigINT
  fi
done
# ---- the same contract as every program (issue 12): no credentials is a failure (1) as in
# export (it was a usage error, 2), and the --json output still names the bucket; a typo
# gets "did you mean"; --quiet prints nothing on stderr on success
expect_exit 1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE -u AWS_SESSION_TOKEN \
  AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent HOME=/nonexistent \
  tidemark-import --from s3://no-credentials/dump --table NoCreds "${KEYS[@]}" --json
assert_contains "$ERR" "no AWS credentials"
failed_json S3AccessDenied   # a source it cannot read, as AWS's S3 codes go (was ValidationException)
assert_contains "$(jc "$OUT")" '"S3BucketSource":{"S3Bucket":"no-credentials","S3KeyPrefix":"dump"}'
no_table NoCreds
expect_exit 2 tidemark-import --form items.jsonl --table Typo "${KEYS[@]}"
assert_contains "$ERR" "did you mean '--from'?"
expect_exit 0 tidemark-import --from items.jsonl --table Quiet "${KEYS[@]}" --quiet
assert_eq "" "$ERR" "stderr of a --quiet import"
echo "import_bad_input: ok"
