#!/usr/bin/env bash
# tidemark_query.sh: query order (N by value incl. negative, fractional, 38-digit; S by UTF-8
# bytes, "Z" < "a" < "¿"; B by unsigned bytes), sort-key conditions, both directions, pagination
# with --limit/--exclusive-start-key, and scan segments partitioning the table exactly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
py() { python3 -c "$@"; }

# ---- N
tidemark create-table --table Nums --key p:S --sort-key n:N >/dev/null
nums=(10 -1.5 0 1E-130 12345678901234567890123456789012345678 -99999999999999999999999999999999999999
      0.001 -0.001 2 -1E+20 9.9999999999999999999999999999999999999E+125 1.5 -10 1 -1E-130 1.05 1.1)
for part in a b; do
  for n in "${nums[@]}"; do echo "{\"p\":{\"S\":\"$part\"},\"n\":{\"N\":\"$n\"}}"; done
done > "$TM_HOME/nums.jsonl"
expect_exit 0 tidemark batch-write --table Nums --file "$TM_HOME/nums.jsonl"
vals='{":p":{"S":"a"}}'
expect_exit 0 tidemark query --table Nums --key-condition 'p = :p' --expression-attribute-values "$vals"
got=$(py 'import sys,json; print(" ".join(json.loads(l)["Item"]["n"]["N"] for l in sys.stdin))' <<<"$OUT")
want=$(py 'import sys
from decimal import Decimal, getcontext
getcontext().prec = 200
v = sorted(sys.argv[1:], key=Decimal)
print(" ".join(format(Decimal(x), "f").rstrip("0").rstrip(".") if "." in format(Decimal(x), "f") else format(Decimal(x), "f") for x in v))' "${nums[@]}")
assert_eq "$want" "$got" "N order"
expect_exit 0 tidemark query --table Nums --key-condition 'p = :p' --expression-attribute-values "$vals" --no-scan-index-forward
got_back=$(py 'import sys,json; print(" ".join(json.loads(l)["Item"]["n"]["N"] for l in sys.stdin))' <<<"$OUT")
assert_eq "$(tr ' ' '\n' <<<"$want" | tac | tr '\n' ' ' | sed 's/ $//')" "$got_back" "N order backward"
# conditions on N
q() {  # cond values -> count
  tidemark query --table Nums --key-condition "$1" --expression-attribute-values "$2" --json |
    py 'import sys,json; print(json.load(sys.stdin)["Count"])'
}
assert_eq 6 "$(q 'p = :p AND n < :z' '{":p":{"S":"a"},":z":{"N":"0"}}')" "n < 0"
assert_eq 7 "$(q 'p = :p AND n <= :z' '{":p":{"S":"a"},":z":{"N":"0"}}')" "n <= 0"
assert_eq 10 "$(q 'p = :p AND n > :z' '{":p":{"S":"a"},":z":{"N":"0"}}')" "n > 0"
assert_eq 5 "$(q 'p = :p AND n BETWEEN :a AND :b' '{":p":{"S":"a"},":a":{"N":"1"},":b":{"N":"2"}}')" "between 1 and 2"
assert_eq 1 "$(q 'p = :p AND n = :a' '{":p":{"S":"a"},":a":{"N":"1.50"}}')" "n = 1.50"
assert_eq 0 "$(q 'p = :p' '{":p":{"S":"zz"}}')" "other partition"
expect_exit 1 tidemark query --table Nums --key-condition 'p = :p AND begins_with(n, :a)' \
  --expression-attribute-values '{":p":{"S":"a"},":a":{"N":"1"}}'
assert_contains "$ERR" "begins_with"
expect_exit 1 tidemark query --table Nums --key-condition 'p = :p AND n = :a' \
  --expression-attribute-values '{":p":{"S":"a"},":a":{"S":"1"}}'
assert_contains "$ERR" "type does not match"
expect_exit 1 tidemark query --table Nums --key-condition 'x = :p' --expression-attribute-values '{":p":{"S":"a"}}'
assert_contains "$ERR" "'x' is not a key attribute"
expect_exit 2 tidemark query --table Nums

# ---- S
tidemark create-table --table Strs --key p:S --sort-key s:S >/dev/null
strs=("a" "Z" "¿" "ab" "a b" "~" "é" "日本" "A" "a\\u0000b" "\\u0000" "0" "zz" "abc")
for s in "${strs[@]}"; do echo "{\"p\":{\"S\":\"x\"},\"s\":{\"S\":\"$s\"}}"; done > "$TM_HOME/strs.jsonl"
expect_exit 0 tidemark batch-write --table Strs --file "$TM_HOME/strs.jsonl"
expect_exit 0 tidemark query --table Strs --key-condition 'p = :p' --expression-attribute-values '{":p":{"S":"x"}}'
got=$(py 'import sys,json; print(json.dumps([json.loads(l)["Item"]["s"]["S"] for l in sys.stdin]))' <<<"$OUT")
want=$(py 'import sys,json; v=[json.loads("\""+x+"\"") for x in sys.argv[1:]]; print(json.dumps(sorted(v, key=lambda s: s.encode())))' "${strs[@]}")
assert_eq "$want" "$got" "S order"
zpos=$(py 'import sys,json; v=json.loads(sys.argv[1]); print(v.index("Z") < v.index("a") < v.index("\u00bf"))' "$got")
assert_eq True "$zpos" '"Z" < "a" < "¿"'
qs() {
  tidemark query --table Strs --key-condition "$1" --expression-attribute-values "$2" --json |
    py 'import sys,json; print(",".join(json.dumps(i["s"]["S"], ensure_ascii=False)[1:-1] for i in json.load(sys.stdin)["Items"]))'
}
assert_eq "ab,abc" "$(qs 'p = :p AND begins_with(s, :a)' '{":p":{"S":"x"},":a":{"S":"ab"}}')" "begins_with ab"
assert_eq 'a,a\u0000b,a b,ab,abc' "$(qs 'p = :p AND begins_with(s, :a)' '{":p":{"S":"x"},":a":{"S":"a"}}')" "begins_with a"
assert_eq "Z,a" "$(qs 'p = :p AND s BETWEEN :a AND :b' '{":p":{"S":"x"},":a":{"S":"Z"},":b":{"S":"a"}}')" "between Z and a"
assert_eq "é,日本" "$(qs 'p = :p AND s > :a' '{":p":{"S":"x"},":a":{"S":"¿"}}')" "s > ¿"
expect_exit 1 tidemark query --table Strs --key-condition 'p = :p AND s BETWEEN :b AND :a' \
  --expression-attribute-values '{":p":{"S":"x"},":a":{"S":"a"},":b":{"S":"b"}}'
assert_contains "$ERR" "upper bound"

# ---- B
tidemark create-table --table Bins --key p:S --sort-key b:B >/dev/null
bins=("gA==" "AA==" "AAA=" "/w==" "AQ==" "f/8=" "AQI=" "//8=" "AAE=")
for b in "${bins[@]}"; do echo "{\"Item\":{\"p\":{\"S\":\"x\"},\"b\":{\"B\":\"$b\"}}}"; done > "$TM_HOME/bins.jsonl"
expect_exit 0 tidemark batch-write --table Bins --file "$TM_HOME/bins.jsonl"
expect_exit 0 tidemark query --table Bins --key-condition 'p = :p' --expression-attribute-values '{":p":{"S":"x"}}'
got=$(py 'import sys,json; print(" ".join(json.loads(l)["Item"]["b"]["B"] for l in sys.stdin))' <<<"$OUT")
want=$(py 'import sys,base64; print(" ".join(sorted(sys.argv[1:], key=base64.b64decode)))' "${bins[@]}")
assert_eq "$want" "$got" "B order"
assert_eq "AA== AAA= AAE=" "$(tidemark query --table Bins --key-condition 'p = :p AND begins_with(b, :z)' \
  --expression-attribute-values '{":p":{"S":"x"},":z":{"B":"AA=="}}' |
  py 'import sys,json; print(" ".join(json.loads(l)["Item"]["b"]["B"] for l in sys.stdin))')" "B begins_with"

# ---- pagination (both directions): pages of 4 join to the whole partition
for dir in --scan-index-forward --no-scan-index-forward; do
  all=$(tidemark query --table Nums --key-condition 'p = :p' --expression-attribute-values "$vals" $dir |
        py 'import sys,json; print(" ".join(json.loads(l)["Item"]["n"]["N"] for l in sys.stdin))')
  pages=""; esk=""; n=0
  while :; do
    args=(--table Nums --key-condition 'p = :p' --expression-attribute-values "$vals" $dir --limit 4 --json)
    [ -n "$esk" ] && args+=(--exclusive-start-key "$esk")
    expect_exit 0 tidemark query "${args[@]}"
    pages+=" $(py 'import sys,json; print(" ".join(i["n"]["N"] for i in json.load(sys.stdin)["Items"]))' <<<"$OUT")"
    esk=$(py 'import sys,json; d=json.load(sys.stdin); print(json.dumps(d["LastEvaluatedKey"]) if "LastEvaluatedKey" in d else "")' <<<"$OUT")
    n=$((n+1)); [ -z "$esk" ] && break
    [ $n -lt 20 ] || fail "pagination does not end"
  done
  assert_eq "$all" "$(echo $pages)" "pages $dir"
done
# without --json the next key goes to stderr
expect_exit 0 tidemark query --table Nums --key-condition 'p = :p' --expression-attribute-values "$vals" --limit 2
assert_eq 2 "$(wc -l <<<"$OUT")" "--limit 2 lines"
assert_contains "$ERR" "--exclusive-start-key '{\"p\":{\"S\":\"a\"},\"n\":"
expect_exit 1 tidemark query --table Nums --key-condition 'p = :p' --expression-attribute-values "$vals" \
  --exclusive-start-key '{"p":{"S":"b"},"n":{"N":"1"}}'
assert_contains "$ERR" "starting key"

# ---- scan: segments partition the table exactly; pages of a scan too; filter
tidemark create-table --table Many --key u:S --sort-key i:N >/dev/null
py 'for i in range(600): print("{\"u\":{\"S\":\"user%d\"},\"i\":{\"N\":\"%d\"},\"even\":{\"BOOL\":%s}}" % (i % 37, i, "true" if i % 2 == 0 else "false"))' > "$TM_HOME/many.jsonl"
expect_exit 0 tidemark batch-write --table Many --file "$TM_HOME/many.jsonl" --batch-size 100
whole=$(tidemark scan --table Many | sort)
assert_eq 600 "$(wc -l <<<"$whole")" "scan count"
for total in 1 2 4 7; do
  parts=""
  for ((s = 0; s < total; s++)); do parts+=$(tidemark scan --table Many --segment $s --total-segments $total)$'\n'; done
  assert_eq "$whole" "$(sed '/^$/d' <<<"$parts" | sort)" "union of $total segments"
  assert_eq 600 "$(sed '/^$/d' <<<"$parts" | sort -u | wc -l)" "no duplicates over $total segments"
done
expect_exit 2 tidemark scan --table Many --segment 4 --total-segments 4
expect_exit 2 tidemark scan --table Many --segment 1
pages=""; esk=""; n=0
while :; do
  args=(--table Many --segment 1 --total-segments 3 --limit 50 --json)
  [ -n "$esk" ] && args+=(--exclusive-start-key "$esk")
  expect_exit 0 tidemark scan "${args[@]}"
  pages+=$(py 'import sys,json; [print(json.dumps({"Item":i},separators=(",",":"))) for i in json.load(sys.stdin)["Items"]]' <<<"$OUT")$'\n'
  esk=$(py 'import sys,json; d=json.load(sys.stdin); print(json.dumps(d["LastEvaluatedKey"]) if "LastEvaluatedKey" in d else "")' <<<"$OUT")
  n=$((n+1)); [ -z "$esk" ] && break
  [ $n -lt 40 ] || fail "scan pagination does not end"
done
assert_eq "$(tidemark scan --table Many --segment 1 --total-segments 3 | sort)" "$(sed '/^$/d' <<<"$pages" | sort)" "scan pages"
expect_exit 0 tidemark scan --table Many --filter-expression 'even = :t AND i < :n' \
  --expression-attribute-values '{":t":{"BOOL":true},":n":{"N":"100"}}' --json
assert_eq "50 600" "$(py 'import sys,json; d=json.load(sys.stdin); print(d["Count"], d["ScannedCount"])' <<<"$OUT")" "filter counts"
echo "tidemark_query: OK"
