#!/usr/bin/env bash
# import_csv.sh: CSV imports: a header line, a --csv-header list (then the first line is data),
# each delimiter (, ; : | tab space), RFC 4180 quotes with embedded delimiters, quotes and line
# breaks, typed key columns (N canonicalised, B base64), non-key columns as S, empty cells
# omitted, malformed records rejected with their line, CRLF, gzip/zstd CSV files.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
make_home
W="$TM_HOME/w"; mkdir -p "$W"; cd "$W"
item() { tidemark get-item --table "$1" --key "$2" | tr -d ' \n'; }

# header line, quotes with embedded delimiter, quote and newline; empty cell omitted
printf 'id,name,note,empty\r\n1,"Smith, J","say ""hi""\nbye",\r\n002,plain,x,y\r\n' > a.csv
expect_exit 0 tidemark-import --from a.csv --input-format CSV --table Csv1 --key id:N --json
assert_contains "$(jc "$OUT")" '"InputFormat":"CSV","InputFormatOptions":{"Csv":{"Delimiter":","}}'
assert_contains "$(jc "$OUT")" '"ProcessedItemCount":2,'
assert_eq '{"Item":{"id":{"N":"1"},"name":{"S":"Smith,J"},"note":{"S":"say\"hi\"\nbye"}}}' "$(item Csv1 '{"id":{"N":"1"}}')"
assert_eq '{"Item":{"empty":{"S":"y"},"id":{"N":"2"},"name":{"S":"plain"},"note":{"S":"x"}}}' "$(item Csv1 '{"id":{"N":"2"}}')"

# each delimiter, with a sort key, the delimiter inside quotes
n=0
for d in , ';' : '|' tab space; do
  c=$d; [ $d = tab ] && c=$'\t'; [ $d = space ] && c=' '
  n=$((n + 1))
  {
    printf 'pk%ssk%sv\n' "$c" "$c"
    printf 'a%s10%s"x%sy"\n' "$c" "$c" "$c"
    printf 'a%s9%splain\n' "$c" "$c"
  } > "d.csv"
  expect_exit 0 tidemark-import --from d.csv --input-format csv --csv-delimiter "$d" --table "Delim_$n" --key pk:S --sort-key sk:N
  assert_eq 2 "$(tidemark scan --table "Delim_$n" | wc -l)" "delimiter $d"
  got=$(tidemark get-item --table "Delim_$n" --key '{"pk":{"S":"a"},"sk":{"N":"10"}}' | python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["Item"]["v"]["S"]))')
  assert_eq "$(python3 -c 'import sys; print(repr("x" + sys.argv[1] + "y"))' "$c")" "$got" "delimiter $d inside quotes"
done
expect_exit 2 tidemark-import --from d.csv --input-format CSV --csv-delimiter x --table Bad --key pk:S
assert_contains "$ERR" "--csv-delimiter must be one of , ; : | tab space"

# --csv-header: the first line of every file is data; gzip and zstd files; several files
printf 'u1;a\nu2;b\n' | gzip > p1.csv.gz
printf 'u3;c\n' | zstd -q > p2.csv.zst
mkdir parts && mv p1.csv.gz p2.csv.zst parts/
expect_exit 0 tidemark-import --from parts --input-format CSV --csv-header user,val --csv-delimiter ';' --table Hdr --key user:S --json
assert_contains "$(jc "$OUT")" '"HeaderList":["user","val"]'
assert_contains "$(jc "$OUT")" '"ProcessedItemCount":3,'
assert_eq '{"Item":{"user":{"S":"u1"},"val":{"S":"a"}}}' "$(item Hdr '{"user":{"S":"u1"}}')"
assert_eq '{"Item":{"user":{"S":"u3"},"val":{"S":"c"}}}' "$(item Hdr '{"user":{"S":"u3"}}')"

# key types: N canonicalised, B from base64; bad rows are rejected items with their reason
{
  echo 'k,b,v'
  echo '1.50,AAE=,ok'
  echo 'abc,AAE=,bad number'
  echo ',AAE=,no key'
  echo '2,!!,bad base64'
  echo '3,AAE=,too,many'
  echo '"4",AAE=,"bad"quote'
  echo '5,AAE=,fine'
} > types.csv
expect_exit 3 tidemark-import --from types.csv --input-format CSV --table Types --key k:N --sort-key b:B --error-log types.err
assert_eq '{"Item":{"b":{"B":"AAE="},"k":{"N":"1.5"},"v":{"S":"ok"}}}' "$(item Types '{"k":{"N":"1.5"},"b":{"B":"AAE="}}')"
assert_eq 2 "$(tidemark scan --table Types | wc -l)"
assert_eq 5 "$(wc -l < types.err)"
msgs=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l); print(o["itemS3Pointer"]["itemIndex"], o["errorMessages"][0])' types.err)
assert_contains "$msgs" "1 One or more parameter values were invalid: key k: "
assert_contains "$msgs" "2 One or more parameter values were invalid: Missing the key k in the item"
assert_contains "$msgs" "3 One or more parameter values were invalid: key b: not base64"
assert_contains "$msgs" "4 CSV record has 4 fields, the header 3"
assert_contains "$msgs" "5 Malformed CSV record (line 7): unexpected character after a closing quote"

# a header without the key column is an error for the file; so is an open quote in the header
printf 'a,b\n1,2\n' > nokey.csv
expect_exit 1 tidemark-import --from nokey.csv --input-format CSV --table Bad --key id:S
assert_eq "tidemark-import: import failed: $W/nokey.csv: the CSV header has no column id (the partition key)" "$ERR"
printf 'id,id\n1,2\n' > dup.csv
expect_exit 1 tidemark-import --from dup.csv --input-format CSV --table Bad --key id:S
assert_eq "tidemark-import: import failed: $W/dup.csv: CSV header names column \"id\" twice" "$ERR"
tidemark describe-table --table Bad >/dev/null 2>&1 && fail "table Bad exists"
# a UTF-8 BOM (Excel's "CSV UTF-8") is not part of the first column's name; a lone CR inside an
# unquoted field of an LF or CRLF file is data, not a record end (no phantom item "b")
printf '\xef\xbb\xbfid,note\r\n1,a\rb\r\n2,c\r\n' > bom.csv
expect_exit 0 tidemark-import --from bom.csv --input-format CSV --table Bom --key id:S --json
assert_contains "$(jc "$OUT")" '"ProcessedItemCount":2,'
assert_eq 2 "$(tidemark scan --table Bom | wc -l)"
assert_eq '{"Item":{"id":{"S":"1"},"note":{"S":"a\rb"}}}' "$(item Bom '{"id":{"S":"1"}}')"
# a file whose line breaks are lone CRs (old Mac) still splits at each
printf 'id,note\r1,a\r2,b\r' > mac.csv
expect_exit 0 tidemark-import --from mac.csv --input-format CSV --table Mac --key id:S
assert_eq 2 "$(tidemark scan --table Mac | wc -l)"

# an export directory is not CSV
echo "import_csv: ok"
