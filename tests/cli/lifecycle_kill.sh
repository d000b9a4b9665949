#!/usr/bin/env bash
# lifecycle_kill.sh (issue 15): a tidemark-lifecycle run killed at any point of its deletions
# (TIDEMARK_TEST_LIFECYCLE_KILL_AFTER=k: exit 137 after the k-th) leaves every second of the
# window restorable: the planner finds a plan at every event second (report: no refusal), the
# log has no gap (log verify), restores at the earliest and latest second and at seconds
# across the window match the model, and the next run finishes the work. Kill points: the
# first two, the middle and the last (SOAK=1: every one).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
export TIDEMARK_SEGMENT_BYTES=4096
BASE=$TM_HOME
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
day() { printf '2025-01-%02dT%s' "$1" "${2:-12:00:00Z}"; }
write_day() {
  local i
  for i in $(seq 1 30); do echo "{\"k\":{\"N\":\"$i\"},\"v\":{\"S\":\"day$2-$(printf 'x%.0s' {1..60})\"}}"; done |
    at "$(day $2)" tidemark batch-write --table "$1" --file - >/dev/null 2>&1
}
values() { tidemark scan --table "$1" | python3 -c 'import sys,json
vs=set(json.loads(l)["Item"]["v"]["S"].split("-")[0] for l in sys.stdin if l.strip()); print(",".join(sorted(vs)))'; }
NOW=$(day 16 18:00:00Z)
# 16 days at a 35-day period, then the period lowered to 2: much for one run to delete
at "$(day 1 00:00:00Z)" tidemark create-table --table Kill --key k:N >/dev/null
at "$(day 1 00:00:00Z)" tidemark pitr enable --table Kill >/dev/null
for d in $(seq 1 16); do write_day Kill $d; done
at "$NOW" tidemark pitr enable --table Kill --recovery-period-in-days 2 >/dev/null
expect_exit 0 at "$NOW" tidemark-lifecycle run --dry-run --json
total=$(python3 -c 'import json,sys; print(sum(1 for a in json.loads(sys.argv[1])["Tables"][0]["Actions"] if a["Action"] == "delete"))' "$OUT")
[ "$total" -ge 10 ] || fail "only $total deletions to kill between"
if [ "${SOAK:-0}" = 1 ]; then points=$(seq 1 "$total")
else points="1 2 $((total / 2)) $total"; fi

# the window at NOW is [day 14 18:00, day 16 18:00]; loads at noon
check() {   # time want
  local when=(--latest)
  [ -n "$1" ] && when=(--time "$1")
  n=$((n + 1))
  expect_exit 0 at "$NOW" tidemark-restore --table Kill --target "R$n-k" "${when[@]}" -q
  assert_eq "$2" "$(values "R$n-k")" "after a kill at $k: restore at ${1:-latest}"
  tidemark delete-table --table "R$n-k" >/dev/null
}
n=0
for k in $points; do
  make_home
  rmdir "$TM_HOME"; cp -a "$BASE" "$TM_HOME"
  TIDEMARK_TEST_LIFECYCLE_KILL_AFTER=$k expect_exit 137 at "$NOW" tidemark-lifecycle run --table Kill
  expect_exit 0 at "$NOW" tidemark-lifecycle report --table Kill --json
  case "$OUT" in *'"Refused"'*) fail "after a kill at $k a second has no plan: $OUT" ;; esac
  expect_exit 0 at "$NOW" tidemark log verify --table Kill
  check "$(day 14 18:00:00Z)" day14
  check "$(day 15 11:59:59Z)" day14
  check "$(day 15 12:00:01Z)" day15
  check "$(day 16 06:00:00Z)" day15
  check "" day16
  expect_exit 0 at "$NOW" tidemark-lifecycle run --table Kill --json
  left=$(python3 -c 'import json,sys; print(sum(1 for a in json.loads(sys.argv[1])["Tables"][0]["Actions"] if a["Action"] == "delete"))' "$OUT")
  assert_eq "$((total - k))" "$left" "deletions left after a kill at $k"
  check "$(day 14 18:00:00Z)" day14
done
echo "lifecycle_kill: ok"
