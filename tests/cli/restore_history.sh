#!/usr/bin/env bash
# restore_history.sh: tidemark-restore as a person uses it, over a history of puts, updates,
# deletes and bulk loads spread over 35 simulated days (TIDEMARK_CLOCK per step). The state
# after every step is recorded with `tidemark scan`; restores to the second after and the
# second before each step, to random seconds, to the earliest and the latest restorable
# second and to segment boundaries must give exactly those states, in both plan directions.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work; mkdir -p "$W"
export TIDEMARK_SEGMENT_BYTES=3000          # many small segments
RANDOM=4242
T0=$(date -u -d 2025-10-01T00:00:00Z +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
at() { local t=$1; shift; TIDEMARK_CLOCK=$(iso "$t") "$@"; }
state() { tidemark scan --table "$1" | sort; }

at $((T0 - 3600)) tidemark create-table --table Hist --key pk:S --sort-key sk:N >/dev/null
at $((T0 - 1800)) tidemark put-item --table Hist --item '{"pk":{"S":"pre"},"sk":{"N":"0"}}'
at "$T0" tidemark pitr enable --table Hist >/dev/null
state Hist > "$W/s.0"
times=("$T0")

# ---- the history: 70 steps over 35 days ----
n=70
t=$T0
for ((i = 1; i <= n; i++)); do
  t=$((t + 36000 + RANDOM % 14400))   # 10..14 hours apart
  k="k$((RANDOM % 25))"; s=$((RANDOM % 4))
  key="{\"pk\":{\"S\":\"$k\"},\"sk\":{\"N\":\"$s\"}}"
  case $((RANDOM % 10)) in
    0|1|2|3)
      at "$t" tidemark put-item --table Hist \
        --item "{\"pk\":{\"S\":\"$k\"},\"sk\":{\"N\":\"$s\"},\"v\":{\"N\":\"$RANDOM\"},\"step\":{\"N\":\"$i\"}}" ;;
    4|5)
      at "$t" tidemark update-item --table Hist --key "$key" \
        --update-expression 'SET v = if_not_exists(v, :z) + :n, tags = :t' \
        --expression-attribute-values "{\":n\":{\"N\":\"$((RANDOM % 100))\"},\":z\":{\"N\":\"0\"},\":t\":{\"SS\":[\"a$i\",\"b\"]}}" >/dev/null ;;
    6|7)
      at "$t" tidemark delete-item --table Hist --key "$key" ;;
    *)
      : > "$W/batch.jsonl"
      for ((j = 0; j < 5 + RANDOM % 20; j++)); do
        echo "{\"Item\":{\"pk\":{\"S\":\"k$((RANDOM % 25))\"},\"sk\":{\"N\":\"$((RANDOM % 4))\"},\"v\":{\"N\":\"$RANDOM\"},\"bulk\":{\"BOOL\":true},\"step\":{\"N\":\"$i\"}}}" >> "$W/batch.jsonl"
      done
      at "$t" tidemark batch-write --table Hist --file "$W/batch.jsonl" 2>/dev/null ;;
  esac
  state Hist > "$W/s.$i"
  times+=("$t")
done
at "$t" tidemark snapshot --table Hist >/dev/null
NOW=$((T0 + 35 * 86400 - 600))             # the window still starts at the enable time
export TIDEMARK_CLOCK; TIDEMARK_CLOCK=$(iso "$NOW")

expect_exit 0 tidemark --json log list --table Hist
nseg=$(python3 -c 'import sys,json; print(len(json.load(sys.stdin)["Segments"]))' <<<"$OUT")
[ "$nseg" -ge 5 ] || fail "expected several log segments, got $nseg"

compared=0
dirs=(auto forward backward)
# check WANT_STATE_FILE TIME [direction]
check() {
  local want=$1 time=$2 dir=${3:-auto} name="Restored$compared"
  expect_exit 0 tidemark-restore --table Hist --target "$name" --time "$time" --direction "$dir"
  assert_contains "$ERR" "restored Hist at"
  state "$name" > "$W/got"
  cmp -s "$want" "$W/got" || { diff "$want" "$W/got" | head -20 >&2 || true; fail "restore to $time ($dir) differs from $want"; }
  tidemark delete-table --table "$name" >/dev/null
  compared=$((compared + 1))
}
# the state at epoch second T: after the last step at or before T
state_at() {
  local T=$1 i
  for ((i = n; i >= 0; i--)); do [ "${times[$i]}" -le "$T" ] && { echo "$W/s.$i"; return; }; done
  fail "no state at $T"
}

# every step: the second after it and the second before it, directions taking turns
# (the latest restorable time is the last write's: after the last step, its own second)
for ((i = 1; i <= n; i++)); do
  after=$((times[i] + 1)); [ "$i" -eq "$n" ] && after=${times[i]}
  check "$W/s.$i" "$(iso "$after")" "${dirs[$((i % 3))]}"
  check "$W/s.$((i - 1))" "$(iso $((times[i] - 1)))" "${dirs[$(((i + 1) % 3))]}"
done
# both directions on the same seconds agree (and equal the recorded state)
for i in 5 23 47 66; do
  T=$((times[i] + 7))
  check "$W/s.$i" "$(iso $T)" forward
  check "$W/s.$i" "$(iso $T)" backward
done
# random seconds of the window, given as epoch seconds and as relative times too
for ((r = 0; r < 20; r++)); do
  T=$((T0 + (RANDOM * 32768 + RANDOM) % (times[n] - T0)))
  check "$(state_at $T)" "$T"
done
# a relative time: "-Nm" from the clock
T=$((NOW - (NOW - times[30] - 100) / 60 * 60))
check "$(state_at "$T")" "-$(((NOW - T) / 60))m"
# the earliest and the latest restorable second
check "$W/s.0" "$(iso "$T0")"
check "$W/s.0" "$(iso "$T0")" forward
check "$W/s.$n" "$(iso "${times[n]}")" backward
expect_exit 0 tidemark-restore --table Hist --target Latest --latest --json
state Latest > "$W/got"; cmp -s "$W/s.$n" "$W/got" || fail "--latest differs from the last state"
python3 - "$OUT" <<'EOF' || fail "--json is not a RestoreTableToPointInTime response"
import json, sys
d = json.loads(sys.argv[1])["TableDescription"]
assert d["TableName"] == "Latest" and d["TableStatus"] == "ACTIVE", d
assert [k["AttributeName"] for k in d["KeySchema"]] == ["pk", "sk"], d
assert {a["AttributeName"]: a["AttributeType"] for a in d["AttributeDefinitions"]} == {"pk": "S", "sk": "N"}
rs = d["RestoreSummary"]
assert rs["RestoreInProgress"] is False and rs["SourceTableArn"].endswith(":table/Hist"), rs
assert isinstance(rs["RestoreDateTime"], str) and rs["RestoreDateTime"].endswith("+00:00") and d["TableArn"].endswith(":table/Latest")
assert d["ItemCount"] >= 0 and d["TableSizeBytes"] >= 0
EOF
n_latest=$(wc -l < "$W/s.$n")
[ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["TableDescription"]["ItemCount"])' "$OUT")" = "$n_latest" ] ||
  fail "ItemCount is not the number of items"
# PITR is off on the restored table, and its key schema is the source's
expect_exit 0 tidemark pitr status --table Latest
assert_contains "$OUT" '"DISABLED"'
compared=$((compared + 1))

# segment boundaries: each segment's first record, when it is a step's first write (a whole
# second): one µs before it (the previous state, read back across the boundary) and the
# second after it
expect_exit 0 tidemark --json log list --table Hist
for ft in $(python3 -c 'import sys,json
for s in json.load(sys.stdin)["Segments"]: print(s["FirstTime"])' <<<"$OUT"); do
  case $ft in *.000000Z) ;; *) continue ;; esac
  e=$(date -u -d "$ft" +%s)
  [ "$e" -gt "$T0" ] || continue        # written before PITR was enabled
  check "$(state_at $((e - 1)))" "$(date -u -d "@$((e - 1))" +%Y-%m-%dT%H:%M:%S).999999Z" backward
  [ $((e + 1)) -le "${times[n]}" ] && check "$(state_at $((e + 1)))" "$(iso $((e + 1)))" forward
done

# the dry run prints the plan and writes nothing
expect_exit 0 tidemark-restore --table Hist --target Dry --time "$(iso $((times[60] + 5)))" --dry-run
assert_contains "$OUT" "direction:"
assert_contains "$OUT" "segments:"
assert_contains "$OUT" "estimate:"
expect_exit 0 tidemark-restore --table Hist --target Dry --time "$(iso $((times[60] + 5)))" --dry-run --json
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["Direction"] in ("forward","backward"); assert "Segments" in d and "EstimatedSeconds" in d' "$OUT" ||
  fail "dry-run --json"
expect_exit 0 tidemark list-tables
case $OUT in *Dry*) fail "a dry run created a table" ;; esac
echo "restore_history: OK ($compared restores compared)"
