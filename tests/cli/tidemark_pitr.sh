#!/usr/bin/env bash
# tidemark_pitr.sh: PITR settings and status: the earliest and latest restorable times move as
# TIDEMARK_CLOCK moves, re-enabling resets the earliest, periods outside 1..35 are refused. The
# latest restorable time is now (to the second) while the log is current, not the last write
# (issue 12: a restore to one minute ago on an idle table was refused while an export at the
# same time was accepted).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
field() { python3 -c 'import sys,json; d=json.load(sys.stdin)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]; print(d.get(sys.argv[1], "-"))' "$1"; }

at 2025-11-12T09:00:00Z tidemark create-table --table Orders --key Id:S >/dev/null
expect_exit 0 at 2025-11-12T09:00:00Z tidemark pitr status --table Orders
assert_eq DISABLED "$(field PointInTimeRecoveryStatus <<<"$OUT")"
assert_eq - "$(field EarliestRestorableDateTime <<<"$OUT")"
at 2025-11-12T09:30:00Z tidemark put-item --table Orders --item '{"Id":{"S":"before"}}'

# enable at 10:00: the window starts at the enable time
expect_exit 0 at 2025-11-12T10:00:00Z tidemark pitr enable --table Orders
assert_eq ENABLED "$(field PointInTimeRecoveryStatus <<<"$OUT")"
assert_eq 35 "$(field RecoveryPeriodInDays <<<"$OUT")"
assert_eq 2025-11-12T10:00:00.000000Z "$(field EarliestRestorableDateTime <<<"$OUT")"
# latest is now, to the microsecond (was the last write, 10:07:30.25, before issue 12), and
# never before the last write
at 2025-11-12T10:05:00Z tidemark put-item --table Orders --item '{"Id":{"S":"1"}}'
at 2025-11-12T10:07:30.25Z tidemark put-item --table Orders --item '{"Id":{"S":"2"}}'
expect_exit 0 at 2025-11-12T10:20:00Z tidemark pitr status --table Orders
assert_eq 2025-11-12T10:00:00.000000Z "$(field EarliestRestorableDateTime <<<"$OUT")"
assert_eq 2025-11-12T10:20:00.000000Z "$(field LatestRestorableDateTime <<<"$OUT")"
expect_exit 0 at 2025-11-12T10:20:00.75Z tidemark pitr status --table Orders
assert_eq 2025-11-12T10:20:00.750000Z "$(field LatestRestorableDateTime <<<"$OUT")"
expect_exit 0 at 2025-11-12T10:07:30.25Z tidemark pitr status --table Orders
assert_eq 2025-11-12T10:07:30.250000Z "$(field LatestRestorableDateTime <<<"$OUT")"
# the earliest moves with the clock once the period is shorter than the history
expect_exit 0 at 2025-11-12T10:30:00Z tidemark pitr enable --table Orders --recovery-period-in-days 1
assert_eq 1 "$(field RecoveryPeriodInDays <<<"$OUT")"
at 2025-11-13T09:00:00Z tidemark put-item --table Orders --item '{"Id":{"S":"3"}}'
expect_exit 0 at 2025-11-13T12:00:00Z tidemark pitr status --table Orders
assert_eq 2025-11-12T12:00:00.000000Z "$(field EarliestRestorableDateTime <<<"$OUT")"
assert_eq 2025-11-13T12:00:00.000000Z "$(field LatestRestorableDateTime <<<"$OUT")"
expect_exit 0 at 2025-11-13T18:00:00Z tidemark pitr status --table Orders
assert_eq 2025-11-12T18:00:00.000000Z "$(field EarliestRestorableDateTime <<<"$OUT")"
# disable, then re-enable: the earliest time starts again
expect_exit 0 at 2025-11-13T19:00:00Z tidemark pitr disable --table Orders
assert_eq DISABLED "$(field PointInTimeRecoveryStatus <<<"$OUT")"
at 2025-11-13T19:30:00Z tidemark put-item --table Orders --item '{"Id":{"S":"4"}}'
expect_exit 0 at 2025-11-13T20:00:00Z tidemark pitr enable --table Orders --recovery-period-in-days 7
assert_eq 2025-11-13T20:00:00.000000Z "$(field EarliestRestorableDateTime <<<"$OUT")"
assert_eq 7 "$(field RecoveryPeriodInDays <<<"$OUT")"
expect_exit 0 at 2025-11-14T08:00:00Z tidemark pitr status --table Orders
assert_eq 2025-11-13T20:00:00.000000Z "$(field EarliestRestorableDateTime <<<"$OUT")"

# an idle table: no write for 5 minutes. A restore and an export one minute ago both work and
# hold the last write; one minute ahead is refused by both
at 2025-11-14T09:00:00Z tidemark put-item --table Orders --item '{"Id":{"S":"5"}}'
expect_exit 0 at 2025-11-14T09:05:00Z tidemark pitr status --table Orders
assert_eq 2025-11-14T09:05:00.000000Z "$(field LatestRestorableDateTime <<<"$OUT")"
expect_exit 0 at 2025-11-14T09:05:00Z tidemark-restore --table Orders --target Idle --time -1m
want=$(tidemark scan --table Orders | sort)
assert_eq "$want" "$(tidemark scan --table Idle | sort)" "the restore one minute ago"
assert_contains "$want" '"5"'
expect_exit 0 at 2025-11-14T09:05:00Z tidemark-restore --table Orders --target IdleNow --time 2025-11-14T09:05:00Z
assert_eq "$want" "$(tidemark scan --table IdleNow | sort)" "the restore at now"
expect_exit 0 at 2025-11-14T09:05:00Z tidemark-export --table Orders --to "$TM_HOME/x" --time -1m
expect_exit 1 at 2025-11-14T09:05:00Z tidemark-restore --table Orders --target Ahead --time +1m
assert_contains "$ERR" "2025-11-14T09:06:00"
expect_exit 1 at 2025-11-14T09:05:00Z tidemark-export --table Orders --to "$TM_HOME/y" --time +1m
assert_contains "$ERR" "in the future"

# periods outside 1..35 are refused, with a clear message, and change nothing
for p in 0 36 -1 100 x; do
  expect_exit 2 tidemark pitr enable --table Orders --recovery-period-in-days "$p"
  assert_contains "$ERR" "between 1 and 35"
done
expect_exit 0 at 2025-11-14T08:00:00Z tidemark pitr status --table Orders
assert_eq 7 "$(field RecoveryPeriodInDays <<<"$OUT")"
expect_exit 1 tidemark pitr status --table Nope
assert_contains "$ERR" "Nope"
echo "tidemark_pitr: OK"
