#!/usr/bin/env bash
# tidemark_concurrency.sh: a reader process scanning while a writer process writes sees one
# consistent snapshot: the writer moves money between accounts, both sides of each move in one
# batch, so every scan must count all accounts and the same total; parallel segment scans and
# queries run meanwhile too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
N=10 TOTAL=1000 MOVES=${MOVES:-3000}
tidemark create-table --table Bank --key acct:S --durability none >/dev/null
python3 -c "
for a in range($N): print('{\"acct\":{\"S\":\"a%d\"},\"balance\":{\"N\":\"%d\"}}' % (a, $TOTAL // $N))
" > "$TM_HOME/init.jsonl"
tidemark batch-write --table Bank --file "$TM_HOME/init.jsonl" 2>/dev/null
python3 -c "
import random
random.seed(7)
bal = [$TOTAL // $N] * $N
for m in range($MOVES):
    a, b = random.sample(range($N), 2)
    x = random.randint(0, bal[a])
    bal[a] -= x; bal[b] += x
    for i in (a, b):
        print('{\"acct\":{\"S\":\"a%d\"},\"balance\":{\"N\":\"%d\"},\"move\":{\"N\":\"%d\"}}' % (i, bal[i], m))
" > "$TM_HOME/moves.jsonl"

tidemark batch-write --table Bank --file "$TM_HOME/moves.jsonl" --batch-size 2 2>"$TM_HOME/writer.err" &
writer=$!
sum_scan() {  # stdin: scan output -> "items total"
  python3 -c '
import sys, json
items = [json.loads(l)["Item"] for l in sys.stdin if l.strip()]
print(len(items), sum(int(i["balance"]["N"]) for i in items))'
}
scans=0 during=0
while :; do
  running=0; kill -0 "$writer" 2>/dev/null && running=1
  got=$(tidemark scan --table Bank | sum_scan)
  assert_eq "$N $TOTAL" "$got" "scan $scans (writer running: $running)"
  scans=$((scans + 1)); during=$((during + running))
  [ "$running" = 1 ] || break
  if [ $((scans % 5)) = 0 ]; then  # a parallel segment scan: each segment on its own snapshot
    got=$(tidemark scan --table Bank --json | python3 -c '
import sys, json; d = json.load(sys.stdin); print(d["Count"], sum(int(i["balance"]["N"]) for i in d["Items"]))')
    assert_eq "$N $TOTAL" "$got" "scan --json $scans"
  fi
done
wait "$writer" || fail "writer failed: $(cat "$TM_HOME/writer.err")"
[ "$during" -ge 5 ] || fail "only $during scans overlapped the writer; make MOVES bigger"
expect_exit 0 tidemark get-item --table Bank --key '{"acct":{"S":"a0"}}'
assert_contains "$OUT" "\"move\":"
echo "tidemark_concurrency: OK: $scans consistent scans, $during of them while the writer wrote"
