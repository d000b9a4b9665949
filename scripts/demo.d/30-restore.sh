# scripts/demo.d/30-restore.sh (sourced by scripts/demo.sh after 10-foundation.sh): the on-call
# answer to the bad bulk load: restore the table as it was the second before the load, into a
# new table, after looking at the plan. Uses DEMO_HOME, DEMO_TABLE and DEMO_GOOD_TIME (the second
# before the bad load, picked from the timeline); exports DEMO_RESTORED for later steps.
: "${DEMO_HOME:?10-foundation.sh sets DEMO_HOME}" "${DEMO_TABLE:?}" "${DEMO_GOOD_TIME:?}"
DEMO_RESTORED="${DEMO_TABLE}_restored"
export DEMO_RESTORED
# The morning is simulated: restore "at" the simulated now, or the 35-day window (counted back
# from the real clock) would not reach it.
export TIDEMARK_CLOCK="${DEMO_NOW:?10-foundation.sh sets DEMO_NOW}"
_demo_count() {
  tidemark --data "$DEMO_HOME" describe-table --table "$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Table"]["ItemCount"])'
}

step "Restore: the plan for $DEMO_TABLE at $DEMO_GOOD_TIME (the second before the bad load)"
tidemark-restore --data "$DEMO_HOME" --table "$DEMO_TABLE" --target "$DEMO_RESTORED" \
  --time "$DEMO_GOOD_TIME" --dry-run

step "Restore: $DEMO_TABLE at $DEMO_GOOD_TIME into the new table $DEMO_RESTORED"
tidemark-restore --data "$DEMO_HOME" --table "$DEMO_TABLE" --target "$DEMO_RESTORED" \
  --time "$DEMO_GOOD_TIME" --json |
  python3 -c 'import json,sys
d = json.load(sys.stdin)["TableDescription"]
r = d["RestoreSummary"]
print("  %s: %d items, %d bytes, restored from %s, RestoreInProgress=%s" % (d["TableName"],
      d["ItemCount"], d["TableSizeBytes"], r["SourceTableArn"], str(r["RestoreInProgress"]).lower()))'

step "Restore: the bad table and the restored one"
_demo_bad=$(_demo_count "$DEMO_TABLE")
_demo_good=$(_demo_count "$DEMO_RESTORED")
printf '  %-32s %10s items (with the bad load)\n' "$DEMO_TABLE" "$_demo_bad"
printf '  %-32s %10s items (as at %s)\n' "$DEMO_RESTORED" "$_demo_good" "$DEMO_GOOD_TIME"
printf '  the restored table has point-in-time recovery %s, as AWS does after a restore\n' \
  "$(tidemark --data "$DEMO_HOME" pitr status --table "$DEMO_RESTORED" |
     python3 -c 'import json,sys; print(json.load(sys.stdin)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"].lower())')"
unset -f _demo_count; unset _demo_bad _demo_good TIDEMARK_CLOCK
