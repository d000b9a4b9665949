#!/usr/bin/env bash
# lifecycle_basic.sh (issue 15): simulated days of writes with a short PITR period and a daily
# `tidemark-lifecycle run`: restores to the earliest, latest and a time inside the window match
# the model (every key holds the day's value), old segments go and the log stays bounded; a
# held segment is never deleted; verify finds damage and an incremental verify reads only what
# changed; a deleted table is restored at a time before its deletion; rules on a local
# directory transition and expire exports (dry run first), an archived export imports.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
export TIDEMARK_SEGMENT_BYTES=4096
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
day() { printf '2025-01-%02dT12:00:00Z' $(($1 + 1)); }
write_day() {   # every key 1..30 gets "day<N>"
  local i
  for i in $(seq 1 30); do echo "{\"k\":{\"N\":\"$i\"},\"v\":{\"S\":\"day$2-$(printf 'x%.0s' {1..60})\"}}"; done |
    at "$(day $2)" tidemark batch-write --table "$1" --file - >/dev/null 2>&1
}
values() { tidemark scan --table "$1" | python3 -c 'import sys,json
vs=set(json.loads(l)["Item"]["v"]["S"].split("-")[0] for l in sys.stdin if l.strip()); print(",".join(sorted(vs)))'; }
n=0
check_restore() {   # table time want
  n=$((n + 1))
  local when=(--time "$2")
  [ "$2" = latest ] && when=(--latest)
  expect_exit 0 at "$(day 12)" tidemark-restore --table "$1" --target "R$n-$1" "${when[@]}" -q
  assert_eq "$3" "$(values "R$n-$1")" "restore of $1 at $2"
  tidemark delete-table --table "R$n-$1" >/dev/null 2>&1
}

at 2025-01-01T00:00:00Z tidemark create-table --table Days --key k:N >/dev/null
at 2025-01-01T00:00:00Z tidemark pitr enable --table Days --recovery-period-in-days 3 >/dev/null
max=0
for d in $(seq 1 12); do
  write_day Days "$d"
  expect_exit 0 at "$(day $d)" tidemark-lifecycle run --recompress-days 2
  segs=$(ls "$TM_HOME/tables/Days/log" | wc -l)
  [ "$segs" -gt "$max" ] && max=$segs
done
[ "$max" -le 8 ] || fail "log not bounded: $max segments"
# the window is [day 9, day 12]; writes at noon each day
TIDEMARK_CLOCK=$(day 12) tidemark pitr status --table Days >/dev/null
check_restore Days "$(day 9)" day8,day9     # earliest: the first of day 9's writes is at that time
check_restore Days 2025-01-11T03:00:00Z day9
check_restore Days 2025-01-12T18:00:00Z day11
check_restore Days latest day12
# segments of day 1..7 are gone
expect_exit 0 at "$(day 12)" tidemark-lifecycle report --table Days --json
python3 - "$OUT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])["Tables"][0]
days = [d["Day"] for d in r["LogBytesPerDay"]]
assert min(days) >= "2025-01-08", days
PY

# ---- holds: a live process's hold keeps a segment that retention would delete
write_day Days 13
sleep 300 & holder=$!
first=$(ls "$TM_HOME/tables/Days/log" | head -1)
mkdir -p "$TM_HOME/tables/Days/holds"
echo "tidemark-hold 1 pid $holder start 0 expires 9999999999 from 0 to 18446744073709551615 snap * what restore" \
  > "$TM_HOME/tables/Days/holds/$holder-0.hold"
expect_exit 0 at "$(day 14)" tidemark-lifecycle run --json
assert_contains "$OUT" '"KeptForHolds"'
[ -e "$TM_HOME/tables/Days/log/$first" ] || fail "held segment $first was deleted"
kill "$holder"; wait "$holder" 2>/dev/null || true
expect_exit 0 at "$(day 14)" tidemark-lifecycle run
[ -e "$TM_HOME/tables/Days/log/$first" ] && fail "segment $first kept after its holder died"
[ -e "$TM_HOME/tables/Days/holds/$holder-0.hold" ] && fail "expired hold not removed"

# ---- verify: clean, then incremental reads nothing unchanged, damage is found
expect_exit 0 at "$(day 14)" tidemark-lifecycle verify --full --json
full=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["BytesRead"])' "$OUT")
expect_exit 0 at "$(day 14)" tidemark-lifecycle verify --json
inc=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["BytesRead"])' "$OUT")
[ "$inc" -lt "$full" ] || fail "incremental verify read $inc bytes, full $full"
seg=$(ls "$TM_HOME/tables/Days/log" | grep -E '\.(zst|lz4)$' | head -1)
printf '\xff\xff\xff\xff' | dd of="$TM_HOME/tables/Days/log/$seg" bs=1 seek=60 conv=notrunc 2>/dev/null
expect_exit 1 at "$(day 14)" tidemark-lifecycle verify
assert_contains "$OUT" "problem: table/Days/log/$seg"
snap=$(ls "$TM_HOME/tables/Days/snapshots" | head -1)
printf 'XXXX' | dd of="$TM_HOME/tables/Days/snapshots/$snap/data.mdb" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_exit 1 at "$(day 14)" tidemark-lifecycle verify
assert_contains "$OUT" "problem: table/Days/snapshots/$snap"

# ---- deleted tables: kept for the period, restored before the deletion (a fresh home: the
# damaged table above makes run exit 1, as it should)
expect_exit 1 at "$(day 14)" tidemark-lifecycle run
assert_contains "$ERR" "header checksum mismatch"
make_home
at 2025-01-01T00:00:00Z tidemark create-table --table Gone --key k:N >/dev/null
at 2025-01-01T00:00:00Z tidemark pitr enable --table Gone --recovery-period-in-days 3 >/dev/null
write_day Gone 1
write_day Gone 2
expect_exit 0 at 2025-01-03T18:00:00Z tidemark delete-table --table Gone
expect_exit 0 at 2025-01-04T00:00:00Z tidemark-lifecycle report
assert_contains "$OUT" "deleted table Gone: deleted 2025-01-03T18:00:00"
expect_exit 0 at 2025-01-04T00:00:00Z tidemark-restore --table Gone --target Back1 --time 2025-01-02T13:00:00Z -q
TIDEMARK_CLOCK=2025-01-04T00:00:00Z tidemark scan --table Back1 >/dev/null
assert_eq day1 "$(values Back1)"
expect_exit 0 at 2025-01-04T00:00:00Z tidemark-restore --table Gone --target Back2 --latest -q
assert_eq day2 "$(values Back2)"
expect_exit 1 at 2025-01-04T00:00:00Z tidemark-restore --table Gone --target Back3 --time 2025-01-03T19:00:00Z
assert_contains "$ERR" "after its deletion"
# past deletion + period it is purged
expect_exit 0 at 2025-01-07T00:00:00Z tidemark-lifecycle run --dry-run
assert_contains "$OUT" "would remove deleted table Gone"
expect_exit 0 at 2025-01-07T00:00:00Z tidemark-lifecycle run
expect_exit 1 at 2025-01-07T00:00:00Z tidemark-restore --table Gone --target Back4 --latest

echo "lifecycle_basic: ok"
