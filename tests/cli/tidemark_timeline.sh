#!/usr/bin/env bash
# tidemark_timeline.sh: the write timeline finds a bad load: a quiet morning of writes, then a
# burst at 10:15; the chart marks it, the JSON gives its first write, the last good second, what
# it touched and its export window; widths down to the second and chosen for the range; steady
# writes with a burst at 10:15:37 inside the minute; --svg draws it (issue 13).
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

# --by minute: the width these counts were written for (without --by it is now chosen for
# 30..60 rows: issue 13)
expect_exit 0 tidemark timeline --table Chat --json --by minute
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

# the burst's neighbourhood and what it touched (issue 13): the last write before it was the
# 10:14:40 update; 50 bad partition keys and the 9 overwritten u.. ones; the overwrites added
# junk and dropped seen (8 of them had it; u07 was deleted at 09:14 and came back new)
assert_eq 2025-11-12T10:14:40.000000Z "$(q 'd["Bursts"][0]["LastWriteBefore"]')" "last write before"
assert_eq 2025-11-12T10:14:40.000000Z "$(q 'd["Bursts"][0]["RestoreTo"]')" "restore to"
assert_eq "2025-11-12T10:15:00.000000Z 2025-11-12T10:15:00.001509Z" \
  "$(q 'd["Bursts"][0]["ExportFrom"] + " " + d["Bursts"][0]["ExportUntil"]')" "export window"
assert_eq 2025-11-12T10:15:00.001508Z "$(q 'd["Bursts"][0]["LastWrite"]')" "last write"
assert_eq "59 True" "$(q '"%d %s" % (d["Bursts"][0]["Touched"]["PartitionKeys"], d["Bursts"][0]["Touched"]["PartitionKeysExact"])')" "partition keys"
assert_eq "bad:1500 u:9" "$(q '" ".join("%s:%d" % (p["Prefix"], p["Writes"]) for p in d["Bursts"][0]["Touched"]["KeyPrefixes"])')" "key prefixes"
assert_eq "junk:9 seen:8" "$(q '" ".join("%s:%d" % (p["Name"], p["Writes"]) for p in d["Bursts"][0]["Touched"]["Attributes"])')" "attributes changed"
assert_eq 60 "$(q 'd["BucketSeconds"]')"

# without --by: a width for the range (2h28m: 3m, 50 rows; it was 149 rows of minutes)
expect_exit 0 tidemark timeline --table Chat --json
j=$OUT
assert_eq "3m 180 50" "$(q '"%s %d %d" % (d["By"], d["BucketSeconds"], len(d["Intervals"]))')" "auto width"
assert_eq "1 2025-11-12T10:15:00.000000Z 1509" "$(q '"%d %s %d" % (len(d["Bursts"]), d["Bursts"][0]["FirstWrite"], d["Bursts"][0]["Writes"])')" "auto burst"
expect_exit 0 tidemark timeline --table Chat --from 2025-11-12T08:00:00Z --to 2025-11-12T09:30:00Z --json
j=$OUT
assert_eq "2m 46" "$(q '"%s %d" % (d["By"], len(d["Intervals"]))')" "a 90-minute window: 46 rows, not 95"
# --by second and --by 10s around the burst
expect_exit 0 tidemark timeline --table Chat --from 2025-11-12T10:14:00Z --to 2025-11-12T10:16:00Z --by second --json
j=$OUT
assert_eq "second 121" "$(q '"%s %d" % (d["By"], len(d["Intervals"]))')" "--by second"
assert_eq "2025-11-12T10:15:00Z" "$(q '" ".join(i["Start"] for i in d["Intervals"] if i["Burst"])')" "the burst second"
assert_eq 2025-11-12T10:14:40.000000Z "$(q 'd["Bursts"][0]["LastWriteBefore"]')" "last write before, by second"
expect_exit 0 tidemark timeline --table Chat --from 2025-11-12T10:14:00Z --to 2025-11-12T10:16:00Z --by 10s
assert_contains "$OUT" "writes per 10s"
row=$(grep '^2025-11-12T10:15:00Z' <<<"$OUT") || fail "no 10:15:00 row by 10s"
assert_contains "$row" "BURST"
assert_contains "$OUT" "key prefixes: bad 1500, u 9"
assert_contains "$OUT" "attributes changed: junk 9, seen 8"
assert_contains "$OUT" "undo: tidemark-export --table Chat --to DEST --incremental --from 2025-11-12T10:15:00.000000Z --until 2025-11-12T10:15:00.001509Z"

# the chart: the burst row is marked, rows are labelled with UTC minutes, quiet runs folded
expect_exit 0 tidemark timeline --table Chat --by minute
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
expect_exit 0 tidemark timeline --table Chat --by day --json   # a width now (issue 13; was refused)
j=$OUT
assert_eq "day 1" "$(q '"%s %d" % (d["By"], len(d["Intervals"]))')" "--by day"
expect_exit 2 tidemark timeline --table Chat --by fortnight
assert_contains "$ERR" "not a width"
expect_exit 2 tidemark timeline --table Chat --by 0s
expect_exit 2 tidemark timeline --table Chat --from yesterday
assert_contains "$ERR" "cannot parse time"
expect_exit 1 tidemark timeline --table Nope
# steady writes, 40 a minute (every 1.5 s), and a bad load of 200 at 10:15:37 inside the
# minute: the state to restore to is 10:15:36, keeping the good writes of 10:15:00..36 (the old
# rule said 10:14:59); minutes, the automatic width and seconds agree
at 2025-11-12T10:00:00Z tidemark create-table --table Steady --key k:S >/dev/null
for i in $(seq 0 119); do
  us=$((13 * 60 * 1000000 + i * 1500000))
  ts=$(printf '2025-11-12T10:%02d:%02d.%06dZ' $((us / 60000000)) $((us / 1000000 % 60)) $((us % 1000000)))
  at "$ts" tidemark put-item --table Steady --item "{\"k\":{\"S\":\"good$((i % 7))\"},\"n\":{\"N\":\"$i\"}}"
  if [ "$ts" = 2025-11-12T10:15:36.000000Z ]; then
    python3 -c '
for i in range(200): print("{\"k\":{\"S\":\"load#%d\"},\"v\":{\"S\":\"x\"}}" % i)' > "$TM_HOME/load.jsonl"
    at 2025-11-12T10:15:37Z tidemark batch-write --table Steady --file "$TM_HOME/load.jsonl" 2>/dev/null
  fi
done
for by in minute auto second; do
  if [ $by = auto ]; then expect_exit 0 tidemark timeline --table Steady --json
  else expect_exit 0 tidemark timeline --table Steady --json --by $by; fi
  j=$OUT
  assert_eq "1 2025-11-12T10:15:37.000000Z 2025-11-12T10:15:37.000199Z 200" \
    "$(q '"%d %s %s %d" % (len(d["Bursts"]), d["Bursts"][0]["FirstWrite"], d["Bursts"][0]["LastWrite"], d["Bursts"][0]["Writes"])')" "steady: burst by $by"
  assert_eq "2025-11-12T10:15:36.000000Z 2025-11-12T10:15:36Z" \
    "$(q 'd["Bursts"][0]["RestoreTo"] + " " + d["Bursts"][0]["LastGoodSecond"]')" "steady: restore to, by $by"
  assert_eq "200 load#:200 v:200" "$(q '"%d %s" % (d["Bursts"][0]["Touched"]["PartitionKeys"], " ".join(["%s:%d" % (x["Prefix"], x["Writes"]) for x in d["Bursts"][0]["Touched"]["KeyPrefixes"]] + ["%s:%d" % (x["Name"], x["Writes"]) for x in d["Bursts"][0]["Touched"]["Attributes"]]))')" "steady: touched, by $by"
done
expect_exit 0 tidemark timeline --table Steady --by minute
assert_contains "$OUT" "state before it: 2025-11-12T10:15:36Z"

# a load right after a load (issue 13: 442,149 items, then 100,000 updates the next minute were
# no burst; here 3,000 and 1,000): each is a burst, the second with the first's end before it
at 2025-11-12T09:59:00Z tidemark create-table --table Loads --key k:S >/dev/null
python3 -c 'for i in range(3000): print("{\"k\":{\"S\":\"item#%d\"},\"v\":{\"N\":\"1\"}}" % i)' > "$TM_HOME/init.jsonl"
python3 -c 'for i in range(1000): print("{\"k\":{\"S\":\"item#%d\"},\"v\":{\"N\":\"2\"}}" % (3 * i))' > "$TM_HOME/bad2.jsonl"
at 2025-11-12T10:00:00Z tidemark batch-write --table Loads --file "$TM_HOME/init.jsonl" 2>/dev/null
at 2025-11-12T10:01:00Z tidemark batch-write --table Loads --file "$TM_HOME/bad2.jsonl" 2>/dev/null
for by in minute auto second; do
  if [ $by = auto ]; then expect_exit 0 tidemark timeline --table Loads --json
  else expect_exit 0 tidemark timeline --table Loads --json --by $by; fi
  j=$OUT
  assert_eq "2 3000 1000 2025-11-12T10:01:00.000000Z 2025-11-12T10:00:00.002999Z 1000" \
    "$(q '"%d %d %d %s %s %d" % (len(d["Bursts"]), d["Bursts"][0]["Puts"], d["Bursts"][1]["Updates"], d["Bursts"][1]["FirstWrite"], d["Bursts"][1]["LastWriteBefore"], d["Bursts"][1]["Touched"]["PartitionKeys"])')" "load after load, by $by"
done
expect_exit 0 tidemark timeline --table Loads --by minute
row=$(grep '^2025-11-12T10:01Z' <<<"$OUT") || fail "no 10:01 row"
assert_contains "$row" "BURST (quiet before)"
expect_exit 0 tidemark timeline --table Chat --by minute
assert_contains "$(grep '^2025-11-12T10:15Z' <<<"$OUT")" "BURST x754"   # 1509 against 2 a minute before it

# --svg: well-formed XML with a bar per busy interval, the burst band and its label
svg=$TM_HOME/steady.svg
expect_exit 0 tidemark timeline --table Steady --by 10s --svg "$svg"
[ -s "$svg" ] || fail "no svg written"
python3 - "$svg" <<'PY' || fail "svg check"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
bursts = root.findall("s:g", ns)
assert len(bursts) == 1, len(bursts)
label = "".join(bursts[0].find("s:text", ns).itertext())
assert "2025-11-12T10:15:37.000000Z" in label and "restore to 2025-11-12T10:15:36.000000Z" in label, label
band = bursts[0].find("s:rect", ns)
assert float(band.get("width")) > 0 and band.get("fill") == "#d62728"
bars = [r for r in root.findall("s:rect", ns) if r.find("s:title", ns) is not None]
red = [r for r in bars if r.get("fill") == "#d62728"]
assert len(bars) == 18 and len(red) == 1, (len(bars), len(red))
assert "10:15:30Z: 207 writes" in red[0].find("s:title", ns).text, red[0].find("s:title", ns).text
PY
expect_exit 1 tidemark timeline --table Steady --svg /nonexistent/dir/x.svg
echo "tidemark_timeline: OK"
