#!/usr/bin/env bash
# lifecycle_period.sh (issue 15): changing the period, disabling and re-enabling PITR, as
# DynamoDB does: disabled, a run keeps no history (only the write-ahead log's newest segment)
# and nothing restores; re-enabled, the window starts at the re-enable time (the old history
# does not come back) and holds the state of that moment; a shorter period shrinks the window
# at the next run. A deleted table is listed by `tidemark list-tables --deleted` until its
# period ends.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
export TIDEMARK_SEGMENT_BYTES=4096
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
day() { printf '2025-01-%02dT%s' "$1" "${2:-12:00:00Z}"; }
write_day() {   # every key 1..30 gets "day<N>"
  local i
  for i in $(seq 1 30); do echo "{\"k\":{\"N\":\"$i\"},\"v\":{\"S\":\"day$2-$(printf 'x%.0s' {1..60})\"}}"; done |
    at "$(day $2)" tidemark batch-write --table "$1" --file - >/dev/null 2>&1
}
values() { tidemark scan --table "$1" | python3 -c 'import sys,json
vs=set(json.loads(l)["Item"]["v"]["S"].split("-")[0] for l in sys.stdin if l.strip()); print(",".join(sorted(vs)))'; }
window() {   # prints "earliest latest" of table $2 at time $1
  at "$1" tidemark pitr status --table "$2" | python3 -c 'import sys,json
d=json.load(sys.stdin)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
print(d["PointInTimeRecoveryStatus"], d.get("EarliestRestorableDateTime", "-"), d.get("LatestRestorableDateTime", "-"))'
}
sealed() { ls "$TM_HOME/tables/$1/log" | grep -cE '\.(lz4|zst)$' || true; }

at "$(day 1 00:00:00Z)" tidemark create-table --table Per --key k:N >/dev/null
at "$(day 1 00:00:00Z)" tidemark pitr enable --table Per >/dev/null
for d in 1 2 3 4 5; do write_day Per $d; expect_exit 0 at "$(day $d 23:00:00Z)" tidemark-lifecycle run; done
[ "$(sealed Per)" -ge 4 ] || fail "a 35-day period keeps the log: $(sealed Per) sealed segments"
assert_eq "ENABLED 2025-01-01T00:00:00.000000Z 2025-01-05T23:00:00.000000Z" "$(window "$(day 5 23:00:00Z)" Per)"

# ---- disabled: no history is kept, nothing restores
expect_exit 0 at "$(day 5 23:30:00Z)" tidemark pitr disable --table Per
write_day Per 6
expect_exit 0 at "$(day 6 23:00:00Z)" tidemark-lifecycle run
[ "$(sealed Per)" -le 1 ] || fail "PITR off kept $(sealed Per) sealed segments"
assert_eq "DISABLED - -" "$(window "$(day 6 23:00:00Z)" Per)"
expect_exit 1 at "$(day 6 23:00:00Z)" tidemark-restore --table Per --target Rstx --time "$(day 3)"
assert_contains "$ERR" "point-in-time recovery is not enabled for table Per"

# ---- re-enabled with a 2-day period: the window starts again at the re-enable time
expect_exit 0 at "$(day 7 06:00:00Z)" tidemark pitr enable --table Per --recovery-period-in-days 2
assert_eq "ENABLED 2025-01-07T06:00:00.000000Z 2025-01-07T06:00:00.000000Z" "$(window "$(day 7 06:00:00Z)" Per)"
write_day Per 7
expect_exit 0 at "$(day 7 23:00:00Z)" tidemark-restore --table Per --target Rst1 --time "$(day 7 06:00:00Z)" -q
assert_eq day6 "$(values Rst1)" "the state at the re-enable time"
expect_exit 1 at "$(day 7 23:00:00Z)" tidemark-restore --table Per --target Rst2 --time "$(day 5)"
assert_contains "$ERR" "InvalidRestoreTime"
for d in 8 9 10; do write_day Per $d; expect_exit 0 at "$(day $d 23:00:00Z)" tidemark-lifecycle run; done
assert_eq "ENABLED 2025-01-08T23:00:00.000000Z 2025-01-10T23:00:00.000000Z" "$(window "$(day 10 23:00:00Z)" Per)"
expect_exit 0 at "$(day 10 23:00:00Z)" tidemark-restore --table Per --target Rst3 --time "$(day 8 23:00:00Z)" -q
assert_eq day8 "$(values Rst3)" "the earliest second"

# ---- a shorter period: the next run trims to it, the window shrinks at once
expect_exit 0 at "$(day 10 23:10:00Z)" tidemark pitr enable --table Per --recovery-period-in-days 1
before=$(sealed Per)
expect_exit 0 at "$(day 10 23:20:00Z)" tidemark-lifecycle run
[ "$(sealed Per)" -lt "$before" ] || fail "a shorter period deleted nothing ($before sealed segments)"
assert_eq "ENABLED 2025-01-09T23:20:00.000000Z 2025-01-10T23:20:00.000000Z" "$(window "$(day 10 23:20:00Z)" Per)"
expect_exit 0 at "$(day 10 23:20:00Z)" tidemark-restore --table Per --target Rst4 --time "$(day 9 23:20:00Z)" -q
assert_eq day9 "$(values Rst4)"

# ---- a deleted table is listed until its period ends
expect_exit 0 at "$(day 11 00:00:00Z)" tidemark delete-table --table Per
expect_exit 0 at "$(day 11 01:00:00Z)" tidemark list-tables --deleted
assert_contains "$OUT" '"TableName": "Per"'
assert_contains "$OUT" '"KeptUntil": "2025-01-12T00:00:00'
expect_exit 0 at "$(day 11 01:00:00Z)" tidemark list-tables
case "$OUT" in *'"Per"'*) fail "the deleted table is among the live ones: $OUT" ;; esac
expect_exit 0 at "$(day 12 01:00:00Z)" tidemark-lifecycle run
expect_exit 0 at "$(day 12 01:00:00Z)" tidemark list-tables --deleted
case "$OUT" in *'"TableName"'*) fail "purged table still listed: $OUT" ;; esac
echo "lifecycle_period: ok"
