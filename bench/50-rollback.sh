#!/usr/bin/env bash
# bench/50-rollback.sh: tidemark-rollback of a bad load (issue 13).
#
# A table of N items (BENCH_ITEMS, default 1,000,000; pk:S, a number, 100 bytes of text), PITR
# on; a bad load through the bulk-load path (tidemark batch-write) of N/10 updates and N/50
# inserts (100,000 and 20,000 at 1M); an incremental export of its window; the rollback. Goal:
# the rollback takes at most 1.5x the bad load's own time, at N and at 4N items with the same
# bad load (N/10 updates spread over the 4N table, N/50 inserts: the cost follows the bad
# load, not the table). Each rolled-back table is checked: its scan equals the
# scan before the bad load.
# Against dynalite (npm, when installed): items/s of the rollback over the DynamoDB protocol
# with 1, 8 and 32 connections, DYN_RECORDS records (default 5000; quick 2000), dynalite seeded
# with boto3 (measured, no goal: dynalite is a single-threaded Node.js process).
# Each size runs BENCH_RB_ROUNDS (default 3; quick 1) rounds of bad load + rollback on the same
# table; the row gives the medians (and every round in its detail).
# Knobs: BENCH_BUILD, BENCH_KEEP=1 keeps $BENCH_OUT/rollback, BENCH_NO_4X=1, BENCH_NO_DYNALITE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_setup rollback
export TIDEMARK_HOME=$D/home
ROUNDS=${BENCH_RB_ROUNDS:-3}
[ "${BENCH_QUICK:-0}" = 1 ] && ROUNDS=${BENCH_RB_ROUNDS:-1}
now() { python3 -c 'import time; print("%.6f" % time.time())'; }
gen() {  # gen FROM TO VALUE [PREFIX]: items k<i> in [FROM, TO) stepping STEP
  python3 - "$@" <<'PY'
import sys
a, b, step, val = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pre = sys.argv[5] if len(sys.argv) > 5 else "k"
pad = (val * 100)[:100]
w = sys.stdout.write
for i in range(a, b, step):
    w('{"pk":{"S":"%s%08d"},"v":{"N":"%d"},"pad":{"S":"%s"}}\n' % (pre, i, i, pad))
PY
}

# one_size N: base of N items, then ROUNDS rounds of bad load, export, rollback, check (each rollback puts
# the table back, so every round loads and rolls back the same); medians of the rounds, so that
# a slow spell of the shared machine does not decide the ratio.
one_size() {
  local n=$1 t=Big$1 u=$(( N / 10 )) ins=$(( N / 50 )) r bads=() rbs=() exps=() rss=0
  gen 0 "$n" 1 a >"$D/base.jsonl"
  tidemark create-table --table "$t" --key pk:S >/dev/null
  tidemark pitr enable --table "$t" >/dev/null
  tidemark batch-write --table "$t" --file "$D/base.jsonl" >/dev/null 2>&1
  rm -f "$D/base.jsonl"
  tidemark scan --table "$t" | md5sum >"$D/before.md5"
  { gen 0 "$n" $(( n / u )) b; gen 0 "$ins" 1 c n; } >"$D/bad.jsonl"   # u updates spread over the table
  for ((r = 1; r <= ROUNDS; r++)); do
    sleep 0.05; local t0; t0=$(now); sleep 0.05
    timed BAD tidemark batch-write --table "$t" --file "$D/bad.jsonl"
    sleep 0.05; local t1; t1=$(now)
    rm -rf "$D/exp$n"
    timed EXP tidemark-export --table "$t" --to "$D/exp$n" --incremental --from "$t0" --until "$t1" -q
    local e; e=$(ls -d "$D/exp$n"/AWSDynamoDB/0*)
    timed RB tidemark-rollback --from "$e" --table "$t" -q
    tidemark scan --table "$t" | md5sum | cmp -s - "$D/before.md5" || { log "rollback at $n items (round $r): table differs from before the bad load"; exit 1; }
    log "$n items, round $r: bad load $BAD s, rollback $RB s ($RB_rss KiB)"
    bads+=("$BAD"); rbs+=("$RB"); exps+=("$EXP"); [ "$RB_rss" -gt "$rss" ] && rss=$RB_rss
  done
  BAD=$(median "${bads[@]}"); RB=$(median "${rbs[@]}"); EXP=$(median "${exps[@]}")
  note "rollback: incremental export of the bad load's window ($n items)" "$EXP s" "$((u + ins)) records"
  row "rollback of a bad load ($u updates + $ins inserts) on $n items vs the bad load itself" "$RB" "$BAD" \
    "median of $ROUNDS rounds (rollback ${rbs[*]} s; bad load ${bads[*]} s); bad load through tidemark batch-write (bulk-load path); rollback reads and checks the export, compares each item in the write txn" \
    op="rollback $n items" ref="the bad load's bulk load" goal=1.5 rss="$rss"
  tidemark delete-table --table "$t" >/dev/null
  rm -rf "$D/exp$n" "$D/bad.jsonl"
}

one_size "$N"
[ "${BENCH_NO_4X:-0}" = 1 ] || one_size $((4 * N))

# ---- dynalite: items/s with 1, 8, 32 connections
DYN=.deps/node_modules/dynalite/cli.js
if [ "${BENCH_NO_DYNALITE:-0}" != 1 ] && [ -f "$DYN" ] && python3 -c 'import boto3' 2>/dev/null; then
  R=${DYN_RECORDS:-5000}
  [ "${BENCH_QUICK:-0}" = 1 ] && R=${DYN_RECORDS:-2000}
  export AWS_ACCESS_KEY_ID=AKIDROLLBACK AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  node "$DYN" --host 127.0.0.1 --port "$port" --createTableMs 10 >"$D/dynalite.log" 2>&1 &
  dpid=$!
  trap 'kill $dpid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
  tidemark create-table --table Small --key pk:S >/dev/null
  tidemark pitr enable --table Small >/dev/null
  gen 0 "$R" 1 a | tidemark batch-write --table Small --file - >/dev/null 2>&1
  sleep 0.05; t0=$(now); sleep 0.05
  gen 0 "$R" 1 b | tidemark batch-write --table Small --file - >/dev/null 2>&1
  sleep 0.05; t1=$(now)
  e=$(tidemark-export --table Small --to "$D/dexp" --incremental --from "$t0" --until "$t1" -q)
  tidemark scan --table Small >"$D/bad.jsonl"
  for c in 1 8 32; do
    python3 tests/cli/rollback_endpoint.py seed "http://127.0.0.1:$port" "Orders$c" "$D/bad.jsonl"
    timed DR tidemark-rollback --from "$e" --endpoint-url "http://127.0.0.1:$port" --table-name "Orders$c" --jobs "$c" -q
    note "rollback against dynalite, $c connections" "$(echo "scale=0; $R / $DR" | bc) items/s" \
      "$R records in $DR s (GetItem + conditional PutItem each)"
  done
  kill $dpid 2>/dev/null || true
else
  log "dynalite or boto3 missing: the endpoint measurement is skipped"
fi
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D"
