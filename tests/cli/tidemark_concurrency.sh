#!/usr/bin/env bash
# tidemark_concurrency.sh: a reader process scanning while a writer process writes sees one
# consistent snapshot. The writer moves money between accounts, both sides of each move in one
# batch (from a producer that runs until told to stop), so every scan must count all accounts
# and the same total, however the scan and the batches interleave.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
N=10 TOTAL=1000 SCANS=${SCANS:-24}
tidemark create-table --table Bank --key acct:S --durability none >/dev/null
python3 -c "
for a in range($N): print('{\"acct\":{\"S\":\"a%d\"},\"balance\":{\"N\":\"%d\"}}' % (a, $TOTAL // $N))
" > "$TM_HOME/init.jsonl"
tidemark batch-write --table Bank --file "$TM_HOME/init.jsonl" 2>/dev/null

# producer: one move per batch of 2 lines, until $TM_HOME/stop exists (never a torn line)
mkfifo "$TM_HOME/moves"
python3 - "$TM_HOME/stop" > "$TM_HOME/moves" <<PY &
import os, random, sys, time
random.seed(7)
bal = [$TOTAL // $N] * $N
m = 0
while not os.path.exists(sys.argv[1]):
    a, b = random.sample(range($N), 2)
    x = random.randint(0, bal[a])
    bal[a] -= x; bal[b] += x
    for i in (a, b):
        sys.stdout.write('{"acct":{"S":"a%d"},"balance":{"N":"%d"},"move":{"N":"%d"}}\n' % (i, bal[i], m))
    sys.stdout.flush()
    m += 1
    time.sleep(0.001)   # a steady stream, not a flood: the test is about interleaving
PY
producer=$!
tidemark batch-write --table Bank --file "$TM_HOME/moves" --batch-size 2 --print-acks \
  > "$TM_HOME/acks" 2> "$TM_HOME/writer.err" &
writer=$!
acks() { stat -c %s "$TM_HOME/acks"; }   # grows with every acknowledged batch
while [ "$(acks)" -lt 500 ]; do sleep 0.05; kill -0 "$writer" || fail "writer died: $(cat "$TM_HOME/writer.err")"; done

overlapped=0
for ((s = 1; s <= SCANS; s++)); do
  before=$(acks)
  if [ $((s % 4)) = 0 ]; then     # the --json form too
    got=$(tidemark scan --table Bank --json | python3 -c '
import sys, json; d = json.load(sys.stdin); print(d["Count"], sum(int(i["balance"]["N"]) for i in d["Items"]))')
  else
    got=$(tidemark scan --table Bank | python3 -c '
import sys, json
items = [json.loads(l)["Item"] for l in sys.stdin if l.strip()]
print(len(items), sum(int(i["balance"]["N"]) for i in items))')
  fi
  after=$(acks)
  assert_eq "$N $TOTAL" "$got" "scan $s (batches acknowledged meanwhile: $((after - before)))"
  [ "$after" -gt "$before" ] && overlapped=$((overlapped + 1))
done
touch "$TM_HOME/stop"
wait "$producer" || fail "producer failed"
wait "$writer" || fail "writer failed: $(cat "$TM_HOME/writer.err")"
[ "$overlapped" -ge $((SCANS / 2)) ] || fail "only $overlapped of $SCANS scans overlapped writes"
got=$(tidemark scan --table Bank | python3 -c '
import sys, json; items = [json.loads(l)["Item"] for l in sys.stdin]; print(len(items), sum(int(i["balance"]["N"]) for i in items))')
assert_eq "$N $TOTAL" "$got" "final state"
echo "tidemark_concurrency: OK: $SCANS consistent scans, $overlapped of them while batches were committed, $(wc -l < "$TM_HOME/acks") batches written"
