#!/usr/bin/env bash
# import_roundtrip.sh: export -> import -> the same items, compared one by one.
#   - tidemark-export (gzip and zstd) of a table holding every attribute type, imported without
#     flags (the export's tidemark-schema.json), from the export directory and from its parent
#   - hand-made exports (tests/import/mkexport.py): with a prefix, several files, zstd
#   - the ordered fast path and the sorting path give the same table; --key re-keys
#   - --json is an ImportTableDescription; the new table has PITR disabled
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
make_home
MK="python3 $TM_ROOT/tests/import/mkexport.py"
canon() { $MK canon; }
same_items() {  # table file-of-item-lines
  tidemark scan --table "$1" | canon > "$TM_HOME/got"
  canon < "$2" > "$TM_HOME/want"
  cmp -s "$TM_HOME/got" "$TM_HOME/want" || { diff "$TM_HOME/want" "$TM_HOME/got" | head -5; fail "table $1 differs from $2"; }
}

$MK items 600 > "$TM_HOME/items.jsonl"
tidemark create-table --table Src --key pk:S --sort-key sk:N >/dev/null
tidemark batch-write --table Src --file "$TM_HOME/items.jsonl" 2>/dev/null
same_items Src "$TM_HOME/items.jsonl"

# 1. tidemark-export, gzip then zstd, imported without --key.
for comp in gzip zstd; do
  out="$TM_HOME/exp-$comp"
  expect_exit 0 tidemark-export --table Src --to "$out" --compression $comp --jobs 2
  dir=$(ls -d "$out"/AWSDynamoDB/*/)
  [ -f "$dir/tidemark-schema.json" ] || fail "tidemark-export wrote no tidemark-schema.json"
  expect_exit 0 tidemark-import --from "$dir" --table "Copy_$comp" --json
  same_items "Copy_$comp" "$TM_HOME/items.jsonl"
  assert_contains "$(jc "$OUT")" '"ImportStatus":"COMPLETED"'
  assert_contains "$(jc "$OUT")" '"ProcessedItemCount":600,'
  assert_contains "$(jc "$OUT")" '"ImportedItemCount":600'
  assert_contains "$(jc "$OUT")" '"ErrorCount":0'
  assert_contains "$(jc "$OUT")" "\"InputCompressionType\":\"$(echo $comp | tr a-z A-Z)\""
  assert_contains "$(jc "$OUT")" '"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]'
  assert_contains "$ERR" "imported 600 items into Copy_$comp"
done
# the directory holding AWSDynamoDB/<id>/ works too; so does the sorting path
expect_exit 0 tidemark-import --from "$TM_HOME/exp-gzip" --table FromParent
same_items FromParent "$TM_HOME/items.jsonl"
TIDEMARK_IMPORT_SORT=1 expect_exit 0 tidemark-import --from "$TM_HOME/exp-gzip" --table Sorted --sort-memory 1M
same_items Sorted "$TM_HOME/items.jsonl"
# PITR starts disabled; the item count and size match the source
expect_exit 0 tidemark pitr status --table Copy_gzip
assert_contains "$OUT" '"PointInTimeRecoveryStatus": "DISABLED"'
src=$(tidemark describe-table --table Src | grep -E '"(ItemCount|TableSizeBytes)"')
cp=$(tidemark describe-table --table Copy_gzip | grep -E '"(ItemCount|TableSizeBytes)"')
assert_eq "$src" "$cp" "item count and size"
# the imported table is a normal table: writes go on
expect_exit 0 tidemark put-item --table Copy_gzip --item '{"pk":{"S":"new"},"sk":{"N":"1"}}'
expect_exit 0 tidemark get-item --table Copy_gzip --key '{"pk":{"S":"new"},"sk":{"N":"1"}}'
assert_contains "$OUT" '"new"'

# 2. --key overrides the export's schema (re-keying: a different table, same items)
expect_exit 0 tidemark-import --from "$TM_HOME/exp-gzip" --table Rekeyed --key sk:N
same_items Rekeyed "$TM_HOME/items.jsonl"
expect_exit 0 tidemark describe-table --table Rekeyed
assert_contains "$OUT" '"AttributeName": "sk"'

# 3. hand-made exports: prefix, 3 files, zstd; with and without tidemark-schema.json
d=$($MK export --items "$TM_HOME/items.jsonl" --out "$TM_HOME/hand1" --prefix "a/b" --files 3 --schema pk:S,sk:N)
expect_exit 0 tidemark-import --from "$d" --table Hand1
same_items Hand1 "$TM_HOME/items.jsonl"
assert_contains "$ERR" "from 3 files"
d=$($MK export --items "$TM_HOME/items.jsonl" --out "$TM_HOME/hand2" --files 4 --zstd)
expect_exit 2 tidemark-import --from "$d" --table Hand2
assert_contains "$ERR" "carries no key schema (an AWS export has no tidemark-schema.json): give --key NAME:TYPE [--sort-key NAME:TYPE]"
expect_exit 0 tidemark-import --from "$d" --table Hand2 --key pk:S --sort-key sk:N
same_items Hand2 "$TM_HOME/items.jsonl"
# one data file on its own, and a prefix of files
f=$(ls "$d"/data/* | head -1)
expect_exit 0 tidemark-import --from "$f" --table OneFile --key pk:S --sort-key sk:N
assert_contains "$ERR" "from 1 files"
expect_exit 0 tidemark-import --from "$d/data/file0" --table Prefix --key pk:S --sort-key sk:N --json
assert_contains "$(jc "$OUT")" '"ProcessedItemCount":600,'
expect_exit 0 tidemark-import --from "$d/data" --table DataDir --key pk:S --sort-key sk:N
same_items DataDir "$TM_HOME/items.jsonl"

# 4. duplicate keys: the later line (and the later file) wins; not an error
printf '%s\n' '{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"first"}}}' \
  '{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"second"}}}' > "$TM_HOME/dup1.json"
printf '%s\n' '{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"third"}}}' > "$TM_HOME/dup2.json"
mkdir "$TM_HOME/dups" && cp "$TM_HOME/dup1.json" "$TM_HOME/dups/1.json" && cp "$TM_HOME/dup2.json" "$TM_HOME/dups/2.json"
expect_exit 0 tidemark-import --from "$TM_HOME/dup1.json" --table Dup1 --key pk:S --sort-key sk:N
assert_eq '{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"second"}}}' "$(tidemark scan --table Dup1)"
for t in 1 4; do
  expect_exit 0 tidemark-import --from "$TM_HOME/dups" --table "Dup2_$t" --key pk:S --sort-key sk:N --threads $t
  assert_eq '{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"third"}}}' "$(tidemark scan --table "Dup2_$t")"
done

# 5. a UTF-8 BOM at the start of a JSON-lines file (Windows tools write one) is not data (was
#    "item 0: invalid JSON at offset 0"): plain, gzipped, and in an export's data file
head -n 50 "$TM_HOME/items.jsonl" > "$TM_HOME/fifty.jsonl"
{ printf '\xef\xbb\xbf'; cat "$TM_HOME/fifty.jsonl"; } > "$TM_HOME/bom.json"
gzip -c "$TM_HOME/bom.json" > "$TM_HOME/bom.json.gz"
for f in bom.json bom.json.gz; do
  expect_exit 0 tidemark-import --from "$TM_HOME/$f" --table "Bom_${f//./_}" --key pk:S --sort-key sk:N --json
  assert_contains "$(jc "$OUT")" '"ErrorCount":0,'
  same_items "Bom_${f//./_}" "$TM_HOME/fifty.jsonl"
done
d=$($MK export --items "$TM_HOME/fifty.jsonl" --out "$TM_HOME/bomexp" --files 1)
python3 - "$d" <<'PY'
import base64, glob, gzip, hashlib, json, sys
d = sys.argv[1]
f = glob.glob(d + "/data/*.json.gz")[0]
raw = gzip.compress(b"\xef\xbb\xbf" + gzip.decompress(open(f, "rb").read()))
open(f, "wb").write(raw)
m = [json.loads(l) for l in open(d + "/manifest-files.json")]
m[0]["md5Checksum"] = base64.b64encode(hashlib.md5(raw).digest()).decode()
open(d + "/manifest-files.json", "w").write("".join(json.dumps(x) + "\n" for x in m))
PY
$MK remd5 "$d"
expect_exit 0 tidemark-import --from "$d" --table BomExport --key pk:S --sort-key sk:N
same_items BomExport "$TM_HOME/fifty.jsonl"
echo "import_roundtrip: ok"
