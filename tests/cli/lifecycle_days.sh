#!/usr/bin/env bash
# lifecycle_days.sh (issue 15): simulated days of writes at PITR periods of 35, 7 and 1 days
# with a daily `tidemark-lifecycle run` (tests/cli/lifecycle_days.py): after each run the window
# is exact, nothing deletable is left, disk is bounded, and restores at the earliest, latest and
# random seconds match the reference model. The period raised after retention trimmed the log
# does not bring back what went (the window's floor); lowered, the window shrinks at once.
# make test runs a reduced form; SOAK=1 (make soak) the full 60 days at each period, restores
# every day.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export TIDEMARK_SEGMENT_BYTES=4096
days() { make_home; python3 "$TM_ROOT/tests/cli/lifecycle_days.py" "$@" | tail -1; }
if [ "${SOAK:-0}" = 1 ]; then
  for p in 35 7 1; do days --days 60 --period "$p" --restore-every 1 --random 3 --seed "$p"; done
  days --days 50 --period 3 --raise-to 35 --raise-day 30 --restore-every 1 --random 3 --seed 4
  days --days 50 --period 35 --raise-to 2 --raise-day 40 --restore-every 1 --random 3 --seed 5
else
  days --days 12 --period 35 --restore-every 11 --seed 35
  days --days 16 --period 7 --restore-every 5 --seed 7
  days --days 8 --period 1 --restore-every 3 --random 2 --seed 1
  days --days 12 --period 2 --raise-to 35 --raise-day 6 --restore-every 3 --seed 4
  days --days 8 --period 7 --raise-to 1 --raise-day 5 --restore-every 7 --seed 5
fi
echo "lifecycle_days: ok"
