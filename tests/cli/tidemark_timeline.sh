#!/usr/bin/env bash
# tidemark_timeline.sh: the write timeline finds a bad load: a quiet morning of writes, then a
# burst at 10:15; the chart marks it, the JSON gives its first write and the last good second.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
at 2025-11-12T07:59:00Z tidemark create-table --table Chat --key u:S --sort-key ts:N >/dev/null
at 2025-11-12T07:59:00Z tidemark pitr enable --table Chat >/dev/null
morning() {  # HH MM: a put and an update of it, at HH:MM:30 and HH:MM:40
  at "2025-11-12T$1:$2:30Z" tidemark put-item --table Chat --item "{\"u\":{\"S\":\"u$2\"},\"ts\":{\"N\":\"$1$2\"}}"
  at "2025-11-12T$1:$2:40Z" tidemark update-item --table Chat --key "{\"u\":{\"S\":\"u$2\"},\"ts\":{\"N\":\"$1$2\"}}" \
    --update-expression 'SET seen = :t' --expression-attribute-values '{":t":{"BOOL":true}}'
}
for h in 08 09; do
  for m in 00 07 14 21 28 35 42 49 56; do
    morning $h $m
    if [ $h$m = 0914 ]; then
      at 2025-11-12T09:14:50Z tidemark delete-item --table Chat --key '{"u":{"S":"u07"},"ts":{"N":"0807"}}'
    fi
  done
done
for m in 00 07 14; do morning 10 $m; done
# the bad load at 10:15:00: 1500 new items and 20 overwrites
python3 -c '
for i in range(1500): print("{\"u\":{\"S\":\"bad%d\"},\"ts\":{\"N\":\"%d\"}}" % (i % 50, i))
for m in ["00","07","14","21","28","35","42","49","56"][:9]: print("{\"u\":{\"S\":\"u%s\"},\"ts\":{\"N\":\"08%s\"},\"junk\":{\"S\":\"x\"}}" % (m, m))
' > "$TM_HOME/bad.jsonl"
at 2025-11-12T10:15:00Z tidemark batch-write --table Chat --file "$TM_HOME/bad.jsonl" 2>/dev/null
for m in 21 28; do morning 10 $m; done

expect_exit 0 tidemark timeline --table Chat --json
j=$OUT
q() { python3 -c "import sys,json; d=json.load(sys.stdin); print($1)" <<<"$j"; }
assert_eq 1 "$(q 'len(d["Bursts"])')" "one burst"
assert_eq 2025-11-12T10:15:00.000000Z "$(q 'd["Bursts"][0]["FirstWrite"]')" "burst start"
assert_eq 2025-11-12T10:14:59Z "$(q 'd["Bursts"][0]["LastGoodSecond"]')" "last good second"
assert_eq 2025-11-12T10:14:59.999999Z "$(q 'd["Bursts"][0]["LastGoodTime"]')" "last good time"
assert_eq "1509 1501 8 0" "$(q '" ".join(str(d["Bursts"][0][k]) for k in ("Writes","Puts","Updates","Deletes"))')" "burst counts"
assert_eq minute "$(q 'd["By"]')"
assert_eq "2025-11-12T08:00:00Z" "$(q 'd["Intervals"][0]["Start"]')" "first interval"
assert_eq "2 1 1 0" "$(q '" ".join(str(d["Intervals"][0][k]) for k in ("Writes","Puts","Updates","Deletes"))')" "08:00 counts"
assert_eq "3 1 1 1" "$(q '" ".join(str(i[k]) for i in d["Intervals"] if i["Start"]=="2025-11-12T09:14:00Z" for k in ("Writes","Puts","Updates","Deletes"))')" "09:14 delete"
assert_eq "$((2 * 9 * 2 + 2 * 5 + 1 + 1509))" "$(q 'd["Writes"]')" "total writes"
assert_eq "$(q 'd["Writes"]')" "$(q 'sum(i["Writes"] for i in d["Intervals"])')" "intervals add up"

# the chart: the burst row is marked, rows are labelled with UTC minutes, quiet runs folded
expect_exit 0 tidemark timeline --table Chat
assert_contains "$OUT" "writes per minute, table Chat"
row=$(grep '^2025-11-12T10:15Z' <<<"$OUT") || fail "no 10:15 row"
assert_contains "$row" "BURST"
assert_contains "$row" "1509"
assert_contains "$(grep '^2025-11-12T08:00Z' <<<"$OUT")" "2"
[ "$(grep -c BURST <<<"$OUT")" = 1 ] || fail "exactly one burst row expected"
assert_contains "$OUT" "quiet minutes"
assert_contains "$OUT" "state before it: 2025-11-12T10:14:59Z"

# --from/--to and --by hour
expect_exit 0 tidemark timeline --table Chat --from 2025-11-12T09:00:00Z --to 2025-11-12T09:59:59Z --json
j=$OUT
assert_eq 19 "$(q 'd["Writes"]')" "09:00-10:00 writes, the delete included"
assert_eq 60 "$(q 'len(d["Intervals"])')" "an hour of minutes"
assert_eq 0 "$(q 'len(d["Bursts"])')" "no burst that hour"
expect_exit 0 tidemark timeline --table Chat --by hour --json
j=$OUT
assert_eq "2025-11-12T08:00:00Z 18 19 1519" "$(q '" ".join([d["Intervals"][0]["Start"]] + [str(i["Writes"]) for i in d["Intervals"]])')" "per hour"
TIDEMARK_CLOCK=2025-11-12T10:20:00Z expect_exit 0 tidemark timeline --table Chat --from -5m --to -1m --json
j=$OUT
assert_eq 1509 "$(q 'd["Writes"]')" "relative --from"
expect_exit 2 tidemark timeline --table Chat --by day
expect_exit 2 tidemark timeline --table Chat --from yesterday
assert_contains "$ERR" "cannot parse time"
expect_exit 1 tidemark timeline --table Nope
echo "tidemark_timeline: OK"
