#!/usr/bin/env bash
# bench/70-lifecycle.sh: what tidemark-lifecycle keeps, and what verify reads (issue 15).
#
# 60 simulated days (BENCH_LIFECYCLE_DAYS) of W writes a day (BENCH_LIFECYCLE_WRITES, default
# N/50: 20,000 at 1M; quick 2,000) over a pool of W keys (pk:S, 100 bytes of text), at noon of
# each day (TIDEMARK_CLOCK), with a 35-day PITR window and a `tidemark-lifecycle run` at 23:00
# each day. Measured:
#   - log bytes stored per write and per day at steady state: the kept log's bytes on disk
#     (LZ4, then zstd after 7 days) over the records it holds (`tidemark log list`);
#   - disk use after the 60 days (items, log, snapshots) against the floor: the item bytes
#     written in the window (35 days x W x item size, DynamoDB's item size: names + values);
#   - the time of an incremental verify after one more day against a full verify (goal: the
#     incremental one at most a quarter of the full one; one day in 35 changed).
# Knobs: BENCH_BUILD, BENCH_KEEP=1 keeps $BENCH_OUT/lifecycle.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup lifecycle
export TIDEMARK_HOME=$D/home
DAYS=${BENCH_LIFECYCLE_DAYS:-60}
W=${BENCH_LIFECYCLE_WRITES:-$(( N / 50 ))}
[ "$W" -ge 100 ] || W=100
T=Life
day() { python3 -c 'import sys, datetime as d; print((d.datetime(2025, 1, 1) + d.timedelta(days=int(sys.argv[1]), hours=float(sys.argv[2]))).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1" "$2"; }
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
gen() {  # gen DAY: W items, keys k<i>, the day in the text
  python3 - "$1" "$W" <<'PY'
import sys
d, w = int(sys.argv[1]), int(sys.argv[2])
pad = ("day%04d-" % d) * 13
out = sys.stdout.write
for i in range(w):
    out('{"pk":{"S":"k%08d"},"t":{"S":"%s"}}\n' % (i, pad[:100]))
PY
}
# DynamoDB's item size: attribute names and values ("pk" + "k00000000", "t" + 100 bytes)
ITEM_BYTES=$(( 2 + 9 + 1 + 100 ))

at "$(day 0 0)" tidemark create-table --table $T --key pk:S >/dev/null
at "$(day 0 0)" tidemark pitr enable --table $T --recovery-period-in-days 35 >/dev/null
log "$DAYS days of $W writes a day, a 35-day window, a run each day"
t0=$(date +%s.%N)
for ((d = 0; d < DAYS; d++)); do
  gen "$d" > "$D/day.jsonl"
  at "$(day "$d" 12)" tidemark batch-write --table $T --file "$D/day.jsonl" >/dev/null 2>&1
  at "$(day "$d" 23)" tidemark-lifecycle run --table $T -q >/dev/null
done
rm -f "$D/day.jsonl"
run_s=$(echo "$(date +%s.%N) - $t0" | bc)
NOW=$(day $((DAYS - 1)) 23)
at "$NOW" tidemark-lifecycle report --table $T --json > "$D/report.json"
# bytes per write: the log kept (on disk) over the records it holds
read -r log_recs log_disk segs <<<"$(at "$NOW" tidemark log list --table $T | python3 -c '
import re, sys
n = b = s = 0
for l in sys.stdin:
    m = re.search(r"seq\s+(\d+)\.\.(\d+).*?\s(\d+) bytes", l)
    if m:
        n += int(m.group(2)) - int(m.group(1)) + 1; b += int(m.group(3)); s += 1
print(n, b, s)')"
per_write=$(echo "scale=1; $log_disk / $log_recs" | bc)
per_day=$(echo "scale=0; $log_disk * $W / $log_recs" | bc)
H=$TIDEMARK_HOME/tables/$T
du_b() { du -s --block-size=1 "$1" 2>/dev/null | cut -f1; }   # blocks used: LMDB's file is sparse
log_b=$(du_b "$H/log"); snap_b=$(du_b "$H/snapshots"); items_b=$(du_b "$H/items")
total_b=$(du_b "$H")
wdays=$(( DAYS < 35 ? DAYS : 35 ))
floor_b=$(( wdays * W * ITEM_BYTES ))
nsnap=$(ls "$H/snapshots" | wc -l)
mib() { echo "scale=1; $1 / 1048576" | bc; }
note "lifecycle: log bytes per write at steady state" "$per_write B" \
  "$log_disk bytes on disk for the $log_recs records kept ($segs segments; LZ4, zstd after 7 days); items of $ITEM_BYTES bytes, each record holds the old and new image"
note "lifecycle: log bytes per day at steady state" "$(echo "scale=1; $per_day / 1024" | bc) KiB" "$W writes a day"
note "lifecycle: disk after $DAYS days, 35-day window" "$(mib "$total_b") MiB" \
  "floor (item bytes written in the window) $(mib "$floor_b") MiB, ratio $(echo "scale=2; $total_b / $floor_b" | bc)x: log $(mib "$log_b") MiB, $nsnap snapshots $(mib "$snap_b") MiB, items $(mib "$items_b") MiB"
note "lifecycle: $DAYS daily runs with their writes" "$run_s s" "$W writes a day"

# ---- verify: the state after a full one, one more day, then incremental vs full
at "$NOW" tidemark-lifecycle verify --table $T --full -q >/dev/null
gen "$DAYS" > "$D/day.jsonl"
at "$(day "$DAYS" 12)" tidemark batch-write --table $T --file "$D/day.jsonl" >/dev/null 2>&1
at "$(day "$DAYS" 23)" tidemark-lifecycle run --table $T -q >/dev/null
NOW=$(day "$DAYS" 23)
timed INC sh -c "TIDEMARK_CLOCK='$NOW' tidemark-lifecycle verify --table $T --json > '$D/inc.json'"
timed FULL sh -c "TIDEMARK_CLOCK='$NOW' tidemark-lifecycle verify --table $T --full --json > '$D/full.json'"
rd() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["BytesRead"])' "$1"; }
row "incremental verify after one more day vs a full verify ($DAYS days, 35-day window)" "$INC" "$FULL" \
  "reads $(mib "$(rd "$D/inc.json")") MiB of $(mib "$(rd "$D/full.json")") MiB" \
  op="lifecycle verify" ref="full verify" goal=0.25 rss="$INC_rss"
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D"
