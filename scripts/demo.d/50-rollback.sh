# 50-rollback.sh (sourced by scripts/demo.sh): undo exactly what the 10:15 load wrote, on the
# live table, from the incremental export of its window (DEMO_INCR_DIR, 20-export.sh), while a
# message fixed by hand after the load is kept (reported as a conflict).
# Uses: DEMO_HOME, DEMO_TABLE, DEMO_NOW, DEMO_INCR_DIR, DEMO_GOOD_TIME.
_r50_at() { local t=$1; shift; printf '\033[2m[%s]\033[0m $ %s\n' "$t" "$*"; TIDEMARK_CLOCK=$t "$@"; }

step "10:44 UTC: support fixes one broken message by hand (a legitimate write after the load)"
_r50_key=$( (zcat $(sed -n 's/.*"dataFileS3Key":"\([^"]*\)".*/\1/p' "$DEMO_INCR_DIR/manifest-files.json" |
             sed "s|^|$(dirname "$(dirname "$DEMO_INCR_DIR")")/|") || true) | grep -m 1 '"OldImage"' |
           python3 -c 'import sys,json; print(json.dumps(json.loads(sys.stdin.readline())["Keys"], separators=(",", ":")))')
_r50_at 2025-11-12T10:44:00Z tidemark --data "$DEMO_HOME" update-item --table "$DEMO_TABLE" --key "$_r50_key" \
  --update-expression 'SET #t = :t' --expression-attribute-names '{"#t":"text"}' \
  --expression-attribute-values '{":t":{"S":"fixed by support"}}'

step "Rollback, dry run: what would change, per item and attribute (nothing is written)"
_r50_at "$DEMO_NOW" tidemark-rollback --data "$DEMO_HOME" --from "$DEMO_INCR_DIR" --table "$DEMO_TABLE" \
  --dry-run | head -n 12 || true
echo "    ..."

step "Rollback: put the old images back, delete the junk, leave the fixed message alone"
_r50_rc=0
_r50_at "$DEMO_NOW" tidemark-rollback --data "$DEMO_HOME" --from "$DEMO_INCR_DIR" --table "$DEMO_TABLE" \
  --report "$DEMO_DIR/rollback-report.jsonl" || _r50_rc=$?
echo "  exit status $_r50_rc (3: done, with conflicts to look at); JSON lines in $DEMO_DIR/rollback-report.jsonl"
[ "$_r50_rc" = 3 ] || { echo "  expected exactly the one conflict (exit 3)" >&2; false; }

step "Check: the table equals its state before the load, except the message fixed afterwards"
if ! TIDEMARK_CLOCK=$DEMO_NOW tidemark --data "$DEMO_HOME" describe-table --table "${DEMO_TABLE}_before" >/dev/null 2>&1; then
  TIDEMARK_CLOCK=$DEMO_NOW tidemark-restore --data "$DEMO_HOME" --table "$DEMO_TABLE" --target "${DEMO_TABLE}_before" \
    --time "$DEMO_GOOD_TIME" -q
fi
tidemark --data "$DEMO_HOME" scan --table "$DEMO_TABLE" >"$DEMO_DIR/after-rollback.jsonl"
tidemark --data "$DEMO_HOME" scan --table "${DEMO_TABLE}_before" >"$DEMO_DIR/before-load.jsonl"
python3 - "$DEMO_DIR/after-rollback.jsonl" "$DEMO_DIR/before-load.jsonl" "$DEMO_DIR/rollback-report.jsonl" <<'PY'
import json, sys
key = lambda i: (i["user_id"]["S"], i["sk"]["S"])
now = {key(json.loads(l)["Item"]): json.loads(l)["Item"] for l in open(sys.argv[1])}
before = {key(json.loads(l)["Item"]): json.loads(l)["Item"] for l in open(sys.argv[2])}
rep = [json.loads(l) for l in open(sys.argv[3])][:-1]
undone = [key(r["Keys"]) for r in rep if r["Action"] != "CONFLICT"]
bad = [k for k in undone if now.get(k) != before.get(k)]
other = sum(1 for k in set(now) | set(before) if now.get(k) != before.get(k) and k not in set(undone))
print("  %d items the load wrote are as they were before it (%d restored, %d junk deleted); %d mismatches"
      % (len(undone), sum(r["Action"] == "RESTORE" for r in rep), sum(r["Action"] == "DELETE" for r in rep), len(bad)))
print("  %d other items differ from %s: written after the load (the fixed message, the morning's later writes), kept"
      % (other, "the state before the load"))
sys.exit(1 if bad else 0)
PY
tidemark --data "$DEMO_HOME" get-item --table "$DEMO_TABLE" --key "$_r50_key" | cut -c1-200 | sed 's/^/  kept: /'
unset -f _r50_at; unset _r50_key _r50_rc
