#!/usr/bin/env bash
# export_interchange.sh: tidemark's exports as AWS's own export readers and others read them
# (issue 13, section 4):
#   1. every gzip data file is ONE member: Java's GZIPInputStream (JDK < 23, as OpenSearch Data
#      Prepper and the ScyllaDB migrator use it) over a stream of short reads counts exactly the
#      export's ItemCount; Python's zlib.decompressobj(31) gets every line from the first member.
#      A control shows the Java reader does stop early on a multi-member file (the test can fail).
#   2. --s3-bucket/--s3-prefix: a local export copied into a bucket under another prefix, and a
#      moved export, verify and import (s3rver).
#   3. etag in manifest-files.json is the object's ETag as S3 reports it (head-object).
#   4. a summary edited by hand (account id anonymised): refused naming manifest-summary.md5,
#      accepted with --ignore-summary-checksum by verify and import; a changed data file still
#      refused with it.
# Java: SKIP of part 1's Java check only when javac is absent (scripts/deps.sh installs
# default-jdk-headless, so CI runs it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): d=d[k]
print(d)' "$1" "$2"; }
PY=/usr/bin/python3
GEN="$TM_ROOT/tests/export/gen_items.py"
make_home
work=$TM_HOME/work
mkdir -p "$work"

# ---------------------------------------------------------------- 1. one gzip member per file
tidemark create-table --table Sales --key pk:S --sort-key sk:N >/dev/null
tidemark pitr enable --table Sales >/dev/null
t0=$("$PY" -c 'import time; print("%.6f" % (time.time() + 0.001))')
# ~9 MiB of JSON lines: 2 partitions of several 1 MiB chunks each, joined into one member.
"$PY" "$GEN" 12000 >"$work/items.jsonl"
tidemark batch-write --table Sales --file "$work/items.jsonl" >/dev/null 2>&1
expect_exit 0 tidemark-export --table Sales --to "$work/exp" --jobs 2 --json
full=$(jget "$OUT" ExportDescription.ExportArn); full=${full##*/}
items=$(jget "$OUT" ExportDescription.ItemCount)
assert_eq 12000 "$items" "ItemCount"
fdir=$work/exp/AWSDynamoDB/$full
sleep 1
tidemark delete-item --table Sales --key '{"pk":{"S":"u00-\u00e9\"q\\0"},"sk":{"N":"0"}}' >/dev/null
expect_exit 0 tidemark-export --table Sales --to "$work/exp" --incremental --from "$t0" --json
inc=$(jget "$OUT" ExportDescription.ExportArn); inc=${inc##*/}
recs=$(jget "$OUT" ExportDescription.ItemCount)
[ "$recs" -gt 11000 ] || fail "incremental export of $recs records"
idir=$work/exp/AWSDynamoDB/$inc
files() { "$PY" -c 'import json,sys
for l in open(sys.argv[1] + "/manifest-files.json"): print(sys.argv[2] + "/" + json.loads(l)["dataFileS3Key"])' "$1" "$2"; }
files "$fdir" "$work/exp" >"$work/full.files"
files "$idir" "$work/exp" >"$work/inc.files"
big=$(for f in $(cat "$work/full.files"); do gzip -dc "$f" | wc -c; done | sort -n | tail -1)
[ "$big" -gt 2200000 ] || fail "largest data file holds $big bytes: fewer than 3 chunks of 1 MiB"

# Python's idiom: the first member only.
first_member() {
  "$PY" - "$@" <<'PY'
import sys, zlib
n = 0
for p in sys.argv[1:]:
    d = zlib.decompressobj(31)
    raw = open(p, "rb").read()
    out = d.decompress(raw)
    if not d.eof or d.unused_data:
        sys.exit("%s: %d bytes after the first gzip member" % (p, len(d.unused_data)))
    n += out.count(b"\n")
print(n)
PY
}
assert_eq "$items" "$(xargs <"$work/full.files" sh -c "$(declare -f first_member); PY=$PY; first_member \"\$@\"" _)" \
  "full export: lines of the first gzip members"
got=$(first_member $(cat "$work/inc.files"))
assert_eq "$recs" "$got" "incremental export: lines of the first gzip members"

# Java's GZIPInputStream over short reads.
if command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
  javac -d "$work/java" "$TM_ROOT/tests/java/ExportLines.java"
  for seed in 1 2 3; do
    got=$(java -cp "$work/java" ExportLines "$seed" 97 $(cat "$work/full.files"))
    assert_eq "$items" "$got" "Java GZIPInputStream, full export, seed $seed"
  done
  got=$(java -cp "$work/java" ExportLines 4 97 $(cat "$work/inc.files"))
  assert_eq "$recs" "$got" "Java GZIPInputStream, incremental export"
  # Control: the same lines as 1 MiB members, as tidemark wrote them before: Java stops early.
  "$PY" - "$(head -1 "$work/full.files")" "$work/multi.json.gz" <<'PY'
import gzip, sys, zlib
d = zlib.decompressobj(31).decompress(open(sys.argv[1], "rb").read())
with open(sys.argv[2], "wb") as f:
    for i in range(0, len(d), 1 << 20):
        f.write(gzip.compress(d[i:i + (1 << 20)]))
PY
  want=$(gzip -dc "$work/multi.json.gz" | wc -l)
  # (reads of at most 16 bytes: never 26 left past a trailer, so JDK < 23 never looks further)
  got=$(java -cp "$work/java" ExportLines 1 16 "$work/multi.json.gz")
  jv=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  if [ "${jv%%.*}" -lt 23 ]; then
    [ "$got" -lt "$want" ] || fail "control: Java $jv read all $want lines of a multi-member file"
  fi
  echo "export_interchange: Java $jv read $items and $recs lines (a multi-member file: $got of $want)"
else
  echo "export_interchange: SKIP the Java reader (no javac; scripts/deps.sh installs default-jdk-headless)"
fi

# ---------------------------------------------------------------- 2. --s3-bucket / --s3-prefix
expect_exit 0 tidemark-export --table Sales --to "$work/up" --s3-bucket tm-backups --s3-prefix /nightly/sales/ --json
lid=$(jget "$OUT" ExportDescription.ExportArn); lid=${lid##*/}
assert_contains "$(jc "$OUT")" '"ExportManifest":"nightly/sales/AWSDynamoDB/'"$lid"'/manifest-summary.json"'
assert_contains "$(jc "$OUT")" '"S3Bucket":"tm-backups","S3Prefix":"nightly/sales"'
ldir=$work/up/AWSDynamoDB/$lid
sum=$(cat "$ldir/manifest-summary.json")
assert_contains "$sum" '"s3Bucket":"tm-backups","s3Prefix":"nightly/sales",'
assert_contains "$sum" '"manifestFilesS3Key":"nightly/sales/AWSDynamoDB/'"$lid"'/manifest-files.json"'
n=$(grep -c '"dataFileS3Key":"nightly/sales/AWSDynamoDB/'"$lid"'/data/[a-z2-7]\{26\}\.json\.gz"}$' "$ldir/manifest-files.json")
assert_eq "$(wc -l <"$ldir/manifest-files.json")" "$n" "data file keys under the prefix"
expect_exit 0 tidemark-export verify "$ldir"
expect_exit 0 tidemark-import --from "$ldir" --table Local1
assert_eq 11999 "$(count Local1)" "import of the local export recorded for S3"
expect_exit 0 tidemark-export --table Sales --to "$work/up2" --incremental --from "$t0" --s3-bucket tm-backups --s3-prefix nightly/sales
expect_exit 0 tidemark-export verify "$(ls -d "$work"/up2/AWSDynamoDB/0*)"
# Refused (as a bad --level: the export's own check, exit 1): a prefix with '..', an empty
# bucket; --resume keeps the export's own place (usage, exit 2).
expect_exit 1 tidemark-export --table Sales --to "$work/bad" --s3-bucket b --s3-prefix 'a/../b'
assert_contains "$ERR" "--s3-prefix"
expect_exit 1 tidemark-export --table Sales --to "$work/bad" --s3-bucket ''
expect_exit 2 tidemark-export --table Sales --to "$work/bad" --resume "$ldir" --s3-bucket b

# ---------------------------------------------------------------- 3. copied and moved in S3; ETags
AWS=/usr/bin/aws
aws_env S3RVER S3RVER
s3_start_s3rver "$work/s3rver" tm-backups
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3RVER_PORT
s3() { "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 "$@" --only-show-errors; }
# The local export goes up where it said it would live; readers that follow its keys find it.
s3 cp --recursive "$work/up/" "s3://tm-backups/nightly/sales/"
sdir=s3://tm-backups/nightly/sales/AWSDynamoDB/$lid
expect_exit 0 tidemark-export verify "$sdir"
assert_contains "$OUT" "11999 items"
expect_exit 0 tidemark-export describe --json "$sdir"
assert_contains "$(jc "$OUT")" '"S3Bucket":"tm-backups","S3Prefix":"nightly/sales"'
# Every key the manifests name is an object of the bucket.
"$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3api list-objects-v2 --bucket tm-backups --prefix nightly/ \
  --query 'Contents[].Key' --output text | tr '\t' '\n' >"$work/keys"
"$PY" - "$ldir" "$work/keys" <<'PY'
import json, sys
keys = set(open(sys.argv[2]).read().split())
s = json.load(open(sys.argv[1] + "/manifest-summary.json"))
want = [s["manifestFilesS3Key"]] + [json.loads(l)["dataFileS3Key"] for l in open(sys.argv[1] + "/manifest-files.json")]
missing = [k for k in want if k not in keys]
sys.exit("keys not in the bucket: %s" % missing if missing else 0)
PY
expect_exit 0 tidemark-import --from "$sdir" --table FromS3
assert_eq 11999 "$(count FromS3)" "import from S3"
# Moved to another prefix (aws s3 cp between prefixes): verify and import still read it.
s3 cp --recursive "s3://tm-backups/nightly/sales/" "s3://tm-backups/archive/2025/sales/"
s3 rm --recursive "s3://tm-backups/nightly/"
mdir=s3://tm-backups/archive/2025/sales/AWSDynamoDB/$lid
expect_exit 0 tidemark-export verify "$mdir"
assert_contains "$OUT" "11999 items"
expect_exit 0 tidemark-import --from "$mdir" --table Moved
assert_eq 11999 "$(count Moved)" "import of the moved export"
# An export straight to S3 lists each object's ETag as S3 reports it.
expect_exit 0 tidemark-export --table Sales --to s3://tm-backups/direct --jobs 2
ddir=$OUT
did=$(basename "$ddir")
s3 cp "s3://tm-backups/direct/AWSDynamoDB/$did/manifest-files.json" "$work/direct-files.json"
while read -r key etag; do
  got=$("$AWS" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3api head-object --bucket tm-backups --key "$key" \
    --query ETag --output text | tr -d '"')
  assert_eq "$got" "$etag" "etag of $key"
done < <("$PY" -c 'import json,sys
for l in open(sys.argv[1]): f=json.loads(l); print(f["dataFileS3Key"], f["etag"])' "$work/direct-files.json")
expect_exit 0 tidemark-export verify "$ddir"
# The S3 keys cannot be told where to live: they are where they are.
expect_exit 1 tidemark-export --table Sales --to s3://tm-backups/direct --s3-prefix elsewhere
assert_contains "$ERR" "records its own bucket and prefix"

# ---------------------------------------------------------------- 4. a summary edited by hand
anon=$work/anon/AWSDynamoDB/$lid
mkdir -p "$work/anon/AWSDynamoDB"
cp -r "$ldir" "$anon"
sed -i 's/:000000000000:/:123456789012:/g' "$anon/manifest-summary.json"
grep -q ':123456789012:' "$anon/manifest-summary.json" || fail "the summary was not edited"
expect_exit 1 tidemark-export verify "$anon"
assert_contains "$OUT" "PROBLEM manifest-summary.md5: does not match manifest-summary.json"
assert_contains "$OUT" "--ignore-summary-checksum"
expect_exit 0 tidemark-export verify --ignore-summary-checksum "$anon"
assert_contains "$OUT" "OK $anon"
assert_contains "$OUT" "NOTE manifest-summary.json does not match manifest-summary.md5"
expect_exit 0 tidemark-export verify --json --ignore-summary-checksum "$anon"
assert_contains "$(jc "$OUT")" '"SummaryChecksumIgnored":true'
expect_exit 1 tidemark-import --from "$anon" --table Anon1
assert_contains "$ERR" "manifest-summary.json does not match its MD5 in manifest-summary.md5"
assert_contains "$ERR" "--ignore-summary-checksum"
case "$ERR" in *summary.json.md5*) fail "names manifest-summary.json.md5, a file that does not exist" ;; esac
expect_exit 0 tidemark-import --from "$anon" --table Anon1 --ignore-summary-checksum
assert_eq 11999 "$(count Anon1)" "import of the anonymised export"
expect_exit 0 tidemark-import --from "$anon" --table Anon1j --ignore-summary-checksum --json
assert_contains "$(jc "$OUT")" '"ImportStatus":"COMPLETED"'
# The flag covers the summary only: manifest-files.json and the data files still count.
f1=$(head -1 "$anon/manifest-files.json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["dataFileS3Key"].rsplit("/", 1)[1])')
printf 'x' >>"$anon/data/$f1"
expect_exit 1 tidemark-export verify --ignore-summary-checksum "$anon"
assert_contains "$OUT" "$f1"
expect_exit 1 tidemark-import --from "$anon" --table Anon2 --ignore-summary-checksum
cp "$ldir/data/$f1" "$anon/data/$f1"
sed -i 's/"itemCount":[0-9]*,/"itemCount":1,/' "$anon/manifest-files.json"
expect_exit 1 tidemark-export verify --ignore-summary-checksum "$anon"
assert_contains "$OUT" "manifest-files.md5"
expect_exit 1 tidemark-import --from "$anon" --table Anon3 --ignore-summary-checksum

echo "export_interchange: ok"
