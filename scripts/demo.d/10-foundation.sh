# 10-foundation.sh (sourced by scripts/demo.sh): a chat-history table through one simulated
# morning, with a bad bulk load at 10:15 UTC that the write timeline makes visible.
# Time is simulated with TIDEMARK_CLOCK (each command runs "at" a given instant).
# Exports for later steps:
#   TIDEMARK_HOME   the demo's data directory
#   DEMO_TABLE      the table (Chat)
#   DEMO_BAD_START  the bad load's first write (ISO-8601, µs), read from `timeline --json`
#   DEMO_GOOD_TIME  the last whole second before it (restore to it to undo the load)
#   DEMO_NOW        the simulated "now" after the morning: run later commands with
#                   TIDEMARK_CLOCK=$DEMO_NOW, or the PITR window (35 days back from the real
#                   clock) would not reach this simulated morning
export TIDEMARK_HOME="$DEMO_HOME" DEMO_TABLE=Chat DEMO_NOW=2025-11-12T10:45:00Z
_f10_day=2025-11-12
_f10_data="$DEMO_DIR/foundation"
mkdir -p "$_f10_data"
_f10_at() {  # TIME cmd...: shows the command, then runs it at TIME
  local t=$1; shift
  printf '\033[2m[%s]\033[0m $ %s\n' "$t" "$*"
  TIDEMARK_CLOCK=$t "$@"
}

step "Create a chat-history table (user_id + thread#timestamp sort key), sync durability"
_f10_at "${_f10_day}T07:00:00Z" tidemark create-table --table Chat --key user_id:S --sort-key sk:S | head -n 3
echo "    ..."

step "Load 20,000 chat messages (07:00 UTC)"
python3 bench/gen_items.py 20000 > "$_f10_data/chat.jsonl"
head -n 1 "$_f10_data/chat.jsonl" | cut -c1-150
_f10_at "${_f10_day}T07:00:00Z" tidemark batch-write --table Chat --file "$_f10_data/chat.jsonl"

step "Enable point-in-time recovery (07:30 UTC)"
_f10_at "${_f10_day}T07:30:00Z" tidemark pitr enable --table Chat >/dev/null
echo "PITR enabled, RecoveryPeriodInDays 35"

step "A normal morning: new messages, edits and deletions every few minutes, 08:00-10:14"
python3 - "$_f10_data" <<'PY'
# One file per burst of activity: a handful of new messages at that minute.
import json, random, sys
random.seed(10)
out = sys.argv[1]
words = "hello thanks sure meeting lunch deploy review ticket merge coffee later ok".split()
n = 0
for minute in range(8 * 60, 10 * 60 + 15, 3):
    if minute >= 10 * 60 + 15:
        break
    with open("%s/morning-%04d.jsonl" % (out, minute), "w") as f:
        for i in range(random.randint(2, 12)):
            n += 1
            item = {"user_id": {"S": "user#%06d" % random.randrange(1000)},
                    "sk": {"S": "thread#%05d#%d" % (random.randrange(500), 1762934400000 + minute * 60000 + i)},
                    "text": {"S": " ".join(random.choice(words) for _ in range(random.randint(3, 12)))},
                    "tokens": {"N": str(random.randint(1, 400))}}
            f.write(json.dumps({"Item": item}, separators=(",", ":")) + "\n")
PY
_f10_edits=0
for f in "$_f10_data"/morning-*.jsonl; do
  m=$(basename "$f" .jsonl); m=$((10#${m#morning-}))
  t=$(printf '%sT%02d:%02d:%02dZ' "$_f10_day" $((m / 60)) $((m % 60)) $((RANDOM % 50)))
  TIDEMARK_CLOCK=$t tidemark batch-write --table Chat --file "$f" 2>/dev/null
  if [ $((m % 9)) = 0 ]; then   # now and then someone edits or deletes a message
    key=$(sed -n "$((RANDOM % 20000 + 1))p" "$_f10_data/chat.jsonl" |
          python3 -c 'import sys,json; i=json.load(sys.stdin)["Item"]; print(json.dumps({"user_id":i["user_id"],"sk":i["sk"]}))')
    t=$(printf '%sT%02d:%02d:55Z' "$_f10_day" $((m / 60)) $((m % 60)))
    if [ $((m % 2)) = 0 ]; then
      TIDEMARK_CLOCK=$t tidemark update-item --table Chat --key "$key" --update-expression 'SET edited = :t' \
        --expression-attribute-values '{":t":{"BOOL":true}}'
    else
      TIDEMARK_CLOCK=$t tidemark delete-item --table Chat --key "$key"
    fi
    _f10_edits=$((_f10_edits + 1))
  fi
done
echo "$(ls "$_f10_data"/morning-*.jsonl | wc -l) small batches ($(cat "$_f10_data"/morning-*.jsonl | wc -l) messages) and $_f10_edits edits/deletes"

step "10:15 UTC: a bad bulk load overwrites 5,000 messages with a broken template and adds 3,000 junk ones"
python3 - "$_f10_data" <<'PY'
import json, random, sys
random.seed(1015)
out = sys.argv[1]
lines = open(out + "/chat.jsonl").read().splitlines()
with open(out + "/bad-load.jsonl", "w") as f:
    for l in random.sample(lines, 5000):
        i = json.loads(l)["Item"]
        i["text"] = {"S": "{{message.body}}"}
        i["tokens"] = {"N": "0"}
        f.write(json.dumps({"Item": i}, separators=(",", ":")) + "\n")
    for n in range(3000):
        f.write(json.dumps({"Item": {"user_id": {"S": "user#%06d" % random.randrange(1000)},
                                     "sk": {"S": "thread#99999#%d" % n},
                                     "text": {"S": "{{message.body}}"}}}, separators=(",", ":")) + "\n")
PY
_f10_at "${_f10_day}T10:15:00Z" tidemark batch-write --table Chat --file "$_f10_data/bad-load.jsonl"
for m in 18 24 31 37 42; do  # the morning goes on
  TIDEMARK_CLOCK="${_f10_day}T10:$m:10Z" tidemark batch-write --table Chat \
    --file "$(ls "$_f10_data"/morning-*.jsonl | sed -n "$((m / 3))p")" 2>/dev/null
done

step "Someone notices garbage messages. When did it start? The write timeline:"
_f10_at "$DEMO_NOW" tidemark timeline --table Chat --from "${_f10_day}T09:30:00Z"

step "Pick the bad load's start and the last good second from the timeline's JSON"
_f10_json=$(TIDEMARK_CLOCK=$DEMO_NOW tidemark timeline --table Chat --from "${_f10_day}T08:00:00Z" --json)
DEMO_BAD_START=$(python3 -c 'import sys,json; print(json.load(sys.stdin)["Bursts"][0]["FirstWrite"])' <<<"$_f10_json")
DEMO_GOOD_TIME=$(python3 -c 'import sys,json; b=json.load(sys.stdin)["Bursts"][0]; print(b["LastGoodSecond"] or b["LastGoodTime"])' <<<"$_f10_json")
export DEMO_BAD_START DEMO_GOOD_TIME
echo "DEMO_BAD_START=$DEMO_BAD_START"
echo "DEMO_GOOD_TIME=$DEMO_GOOD_TIME"

step "Point-in-time recovery status (at $DEMO_NOW)"
_f10_at "$DEMO_NOW" tidemark pitr status --table Chat
_f10_at "$DEMO_NOW" tidemark describe-table --table Chat | grep -E '"(ItemCount|TableSizeBytes)"'
