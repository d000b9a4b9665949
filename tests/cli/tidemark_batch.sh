#!/usr/bin/env bash
# tidemark_batch.sh: bulk load from JSON lines: wrapped and bare items, stdin, batch sizes,
# a bad line reported with file:line and the attribute, and the lines before it kept.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
tidemark create-table --table Chat --key user_id:S --sort-key sk:S >/dev/null

python3 "$TM_ROOT/bench/gen_items.py" 2500 > "$TM_HOME/items.jsonl"
expect_exit 0 tidemark batch-write --table Chat --file "$TM_HOME/items.jsonl" --batch-size 300
assert_contains "$ERR" "loaded 2500 items in 9 batches"
assert_eq "" "$OUT" "no stdout without --print-acks"
want=$(python3 -c '
import sys, json
seen = {}
for l in open(sys.argv[1]):
    i = json.loads(l)["Item"]; seen[(i["user_id"]["S"], i["sk"]["S"])] = 1
print(len(seen))' "$TM_HOME/items.jsonl")
expect_exit 0 tidemark describe-table --table Chat
assert_contains "$OUT" "\"ItemCount\": $want"

# bare items, blank lines, stdin, --print-acks
tidemark create-table --table Bare --key k:N >/dev/null
for i in $(seq 1 25); do
  echo "{\"k\":{\"N\":\"$i\"},\"v\":{\"S\":\"x$i\"}}"
  if [ $i = 7 ]; then echo; fi
done > "$TM_HOME/bare.jsonl"
expect_exit 0 tidemark batch-write --table Bare --file - --batch-size 10 --print-acks < "$TM_HOME/bare.jsonl"
assert_eq 25 "$(tidemark scan --table Bare | wc -l)" "stdin load"
# a blank line counts as a line: the acks name input lines
assert_eq $'ack batch=1 items=10 line=11\nack batch=2 items=20 line=21\nack batch=3 items=25 line=26' "$OUT" "acks"

# a bad line: file:line, the attribute; everything before it is loaded, nothing after
tidemark create-table --table Bad --key k:N >/dev/null
{
  for i in $(seq 1 12); do echo "{\"k\":{\"N\":\"$i\"}}"; done
  echo '{"k":{"N":"13"},"price":{"N":"12x"}}'
  for i in $(seq 14 20); do echo "{\"k\":{\"N\":\"$i\"}}"; done
} > "$TM_HOME/bad.jsonl"
expect_exit 1 tidemark batch-write --table Bad --file "$TM_HOME/bad.jsonl" --batch-size 5
assert_contains "$ERR" "bad.jsonl:13"
assert_contains "$ERR" "price"
assert_contains "$ERR" "12 items in 3 batches are loaded and durable (input lines 1..12"
assert_eq 12 "$(tidemark scan --table Bad | wc -l)" "lines before the bad one are loaded"
expect_exit 0 tidemark get-item --table Bad --key '{"k":{"N":"14"}}'
assert_eq '{}' "$OUT" "nothing after the bad line"
# the hint works: resume from the fixed line
sed -i '13s/12x/12/' "$TM_HOME/bad.jsonl"
tail -n +13 "$TM_HOME/bad.jsonl" | tidemark batch-write --table Bad --file - 2>/dev/null
assert_eq 20 "$(tidemark scan --table Bad | wc -l)" "resumed load"

# missing key attribute, invalid JSON, a missing file
printf '{"k":{"N":"1"}}\n{"nokey":{"S":"x"}}\n' > "$TM_HOME/nokey.jsonl"
expect_exit 1 tidemark batch-write --table Bad --file "$TM_HOME/nokey.jsonl"
assert_contains "$ERR" "nokey.jsonl:2"
assert_contains "$ERR" "'k'"
printf '{"k":{"N":"1"}\n' > "$TM_HOME/broken.jsonl"
expect_exit 1 tidemark batch-write --table Bad --file "$TM_HOME/broken.jsonl"
assert_contains "$ERR" "broken.jsonl:1"
expect_exit 1 tidemark batch-write --table Bad --file "$TM_HOME/none.jsonl"
assert_contains "$ERR" "none.jsonl"
expect_exit 2 tidemark batch-write --table Bad --file x --batch-size 0
expect_exit 0 tidemark batch-write --help
assert_contains "$OUT" "never"

# --quiet: a load that succeeds prints nothing on stderr; one that stops still says what is
# loaded (failure information) and why (issue 12)
expect_exit 0 tidemark batch-write --table Bad --file "$TM_HOME/bare.jsonl" --quiet
assert_eq "" "$ERR" "stderr of a --quiet load"
expect_exit 0 tidemark -q batch-write --table Bad --file "$TM_HOME/bare.jsonl"
assert_eq "" "$ERR" "stderr of a -q load (global)"
expect_exit 1 tidemark batch-write --table Bad --file "$TM_HOME/nokey.jsonl" --quiet
assert_contains "$ERR" "tidemark: batch-write stopped: 1 items in 1 batches are loaded and durable (input lines 1..1"
assert_contains "$ERR" "nokey.jsonl:2"
echo "tidemark_batch: OK"
