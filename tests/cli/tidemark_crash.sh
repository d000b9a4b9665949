#!/usr/bin/env bash
# tidemark_crash.sh: kill -9 a bulk load in sync mode at random moments, many times. After each
# kill a fresh reader, before any writer runs, must see every acknowledged batch; then the next
# writer open recovers; every acknowledged batch must be there, whole; no batch may be
# half-applied; and `tidemark log verify` must pass. Small log segments (with PITR on, so
# they are kept) make some kills land while a segment is being sealed.
#   CRASH_KILLS (default 52; SOAK=1: 400) kills. Helpers: tests/crash/gen.py, check.py.
# The writer is `tidemark batch-write --print-acks`: it prints "ack batch=N ..." (flushed) after
# each batch is durable and applied, so the acks file holds exactly what was acknowledged.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
want=${CRASH_KILLS:-52}
[ "${SOAK:-0}" = 1 ] && want=${CRASH_KILLS:-400}
K=10                       # items per batch, plus the "last" item
per_round=1500             # batches available to each writer (more than it gets through)
CR=$TM_ROOT/tests/crash

TIDEMARK_SEGMENT_BYTES=65536 tidemark create-table --table Crash --key k:S --durability sync >/dev/null
tidemark pitr enable --table Crash >/dev/null

acked=0 present=0 kills=0 torn=0 replays=0 start_s=$SECONDS
for ((r = 1; kills < want; r++)); do
  [ "$r" -le $((want * 3)) ] || fail "only $kills kills in $((r - 1)) rounds: the writers finish too soon"
  first=$((present + 1))
  python3 "$CR/gen.py" "$first" "$per_round" "$K" > "$TM_HOME/in.jsonl"
  tidemark batch-write --table Crash --file "$TM_HOME/in.jsonl" --batch-size $((K + 1)) --print-acks \
    > "$TM_HOME/acks" 2> "$TM_HOME/writer.err" &
  pid=$!
  # a random moment: from before the table is open to well into the load
  sleep "0.$(printf '%03d' $(( (RANDOM % 3 == 0 ? 3 : 20) + RANDOM % 140 )))"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  n=$(tail -n 1 "$TM_HOME/acks" | sed -n 's/^ack batch=\([0-9]*\) .*/\1/p')
  [ -n "$n" ] && acked=$((first + n - 1))
  # a fresh reader, before any writer: it sees every acknowledged batch (it applies what the
  # killed writer left only in the log)
  tidemark scan --table Crash > "$TM_HOME/scan0.jsonl" 2> "$TM_HOME/scan0.err"
  case "$(cat "$TM_HOME/scan0.err")" in *"torn log tail"*) torn=$((torn + 1)) ;; esac
  case "$(cat "$TM_HOME/scan0.err")" in *"replayed"*) replays=$((replays + 1)) ;; esac
  must=$(( acked > present ? acked : present ))
  python3 "$CR/check.py" "$K" "$must" < "$TM_HOME/scan0.jsonl" > /dev/null ||
    fail "round $r: a reader before any writer misses acknowledged batches (acked batch $acked)"
  # recovery: any writer open (here a probe write that is not part of any batch)
  expect_exit 0 tidemark put-item --table Crash --item "{\"k\":{\"S\":\"probe\"},\"round\":{\"N\":\"$r\"}}"
  case "$ERR" in *"torn log tail"*) torn=$((torn + 1)) ;; esac
  case "$ERR" in *"replayed"*) replays=$((replays + 1)) ;; esac
  tidemark scan --table Crash > "$TM_HOME/scan.jsonl"
  # what must be there: every batch acknowledged, and every batch seen after an earlier recovery
  must=$(( acked > present ? acked : present ))
  present=$(python3 "$CR/check.py" "$K" "$must" < "$TM_HOME/scan.jsonl") ||
    fail "round $r: check failed after kill (acked batch $acked); writer stderr: $(cat "$TM_HOME/writer.err")"
  expect_exit 0 tidemark log verify --table Crash
done
expect_exit 0 tidemark log verify --table Crash
assert_contains "$OUT" "OK"
segs=$(ls "$TM_HOME/tables/Crash/log" | grep -cE '\.(lz4|zst)$' || true)
[ "$acked" -gt 0 ] || fail "no batch was ever acknowledged: the kills came too early"
echo "tidemark_crash: OK: $kills kills in $((r - 1)) rounds, $acked batches ($((acked * (K + 1))) writes) acknowledged and checked after every kill, $present present; recoveries cut $torn torn tails and replayed $replays times; $segs sealed segments; $((SECONDS - start_s)) s"
