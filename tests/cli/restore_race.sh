#!/usr/bin/env bash
# restore_race.sh: restores while another process keeps writing to the source (bulk loads and
# single puts, sealing segments and taking snapshots as it goes). Every restore to a time
# before the race must equal the state recorded then; a --latest restore taken during the race
# must hold the pre-race state plus a gap-free prefix of the racing writes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work; mkdir -p "$W"
export TIDEMARK_SEGMENT_BYTES=8000
state() { tidemark scan --table "$1" | sort; }

TIDEMARK_CLOCK=2025-11-01T00:00:00Z tidemark create-table --table Live --key pk:S --sort-key n:N >/dev/null
TIDEMARK_CLOCK=2025-11-01T00:00:00Z tidemark pitr enable --table Live >/dev/null
# before the race: 20 bulk loads, one a day, state recorded after each
T0=$(date -u -d 2025-11-01T00:00:00Z +%s)
for ((d = 1; d <= 20; d++)); do
  python3 -c 'import sys
d = int(sys.argv[1])
for i in range(200):
    k = (i * 7 + d * 13) % 300
    print("{\"Item\":{\"pk\":{\"S\":\"u%d\"},\"n\":{\"N\":\"%d\"},\"day\":{\"N\":\"%d\"},\"pad\":{\"S\":\"%s\"}}}" % (k % 30, k, d, "x" * (d * 3)))' "$d" > "$W/load.jsonl"
  TIDEMARK_CLOCK=$((T0 + d * 86400)) tidemark batch-write --table Live --file "$W/load.jsonl" 2>/dev/null
  TIDEMARK_CLOCK=$((T0 + d * 86400 + 3600)) tidemark delete-item --table Live \
    --key "{\"pk\":{\"S\":\"u$((d % 30))\"},\"n\":{\"N\":\"$((d * 11 % 300))\"}}"
  state Live > "$W/s.$d"
done

# the racer: a clock later than every restore time, writes until told to stop
export TIDEMARK_CLOCK=$((T0 + 21 * 86400))
(
  k=0
  while [ ! -e "$W/stop" ]; do
    k=$((k + 1))
    if ((k % 5 == 0)); then
      for ((j = 1; j <= 50; j++)); do echo "{\"pk\":{\"S\":\"race\"},\"n\":{\"N\":\"$((k * 100 + j))\"}}"; done |
        tidemark batch-write --table Live --file - 2>>"$W/racer.err" || echo "batch $k" >> "$W/racer.failed"
    else
      tidemark put-item --table Live --item "{\"pk\":{\"S\":\"race\"},\"n\":{\"N\":\"$((k * 100))\"}}" 2>>"$W/racer.err" ||
        echo "put $k" >> "$W/racer.failed"
    fi
    if ((k % 20 == 0)); then tidemark snapshot --table Live >/dev/null; fi
  done
  exit 0
) &
racer=$!
trap 'touch "$W/stop"; wait $racer 2>/dev/null || true; _tm_cleanup' EXIT

compared=0
dirs=(auto forward backward)
for ((r = 0; r < 24; r++)); do
  d=$((1 + r % 20))
  T=$((T0 + d * 86400 + 7200))            # after day d's load and delete
  expect_exit 0 tidemark-restore --table Live --target "Copy$r" --time "$T" --direction "${dirs[$((r % 3))]}"
  state "Copy$r" > "$W/got"
  cmp -s "$W/s.$d" "$W/got" || fail "restore to day $d while racing (${dirs[$((r % 3))]}) differs"
  compared=$((compared + 1))
  if ((r % 6 == 5)); then
    expect_exit 0 tidemark-restore --table Live --target "Now$r" --latest
    state "Now$r" > "$W/now"
    grep -v '"race"' "$W/now" > "$W/now.base" || true
    cmp -s "$W/s.20" "$W/now.base" || fail "--latest while racing lost or changed pre-race items"
    # the racing writes form a prefix: put k*100, batch k*100+1..k*100+50, in k order
    python3 - "$W/now" <<'EOF' || fail "--latest while racing holds a torn set of racing writes"
import json, sys
ns = sorted(int(json.loads(l)["Item"]["n"]["N"]) for l in open(sys.argv[1]) if '"race"' in l)
want = []
k = 0
while len(want) < len(ns):
    k += 1
    want += [k * 100 + j for j in range(1, 51)] if k % 5 == 0 else [k * 100]
assert ns == sorted(want[:len(ns)]), (ns[:5], len(ns))
print("race writes in --latest:", len(ns), file=sys.stderr)
EOF
    compared=$((compared + 1))
  fi
done
touch "$W/stop"; wait $racer
[ ! -e "$W/racer.failed" ] || fail "racing writes failed: $(head -3 "$W/racer.failed") $(head -3 "$W/racer.err")"
expect_exit 0 tidemark --json log list --table Live
nseg=$(python3 -c 'import sys,json; print(len(json.load(sys.stdin)["Segments"]))' <<<"$OUT")
[ "$nseg" -ge 3 ] || fail "the race should have sealed segments ($nseg)"
echo "restore_race: OK ($compared restores compared while writes went on)"
