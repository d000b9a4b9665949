#!/usr/bin/env bash
# tidemark_snapshot.sh: the snapshot policy takes base snapshots by write count and by time while
# PITR is on (and none while it is off), on demand snapshots work, bad policies are refused.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
PATH="$TM_BIN:$PATH"
snaps() { ls "$TM_HOME/tables/$1/snapshots" | grep -c -E '^[0-9a-f]{16}$' || true; }
items() {  # items FROM TO PREFIX: one JSON line per item
  for ((i = $1; i < $2; i++)); do printf '{"k":{"S":"%s%d"},"v":{"N":"%d"}}\n' "$3" "$i" "$i"; done
}

export TIDEMARK_CLOCK=2025-11-12T08:00:00Z
expect_exit 0 tidemark create-table --table Snap --key k:S --snapshot-every 0 --snapshot-every-writes 100
items 0 250 a > "$TM_HOME/a.jsonl"
expect_exit 0 tidemark batch-write --table Snap --file "$TM_HOME/a.jsonl" --batch-size 50
assert_eq 0 "$(snaps Snap)" "no policy snapshots while PITR is off"

expect_exit 0 tidemark pitr enable --table Snap
assert_eq 1 "$(snaps Snap)" "enabling PITR takes the base snapshot"
items 0 250 b > "$TM_HOME/b.jsonl"
expect_exit 0 tidemark batch-write --table Snap --file "$TM_HOME/b.jsonl" --batch-size 50
# a bulk load commits to LMDB as soon as the policy is due: after 100 and after 200 writes
# (it took one snapshot at its end before, so a bulk-built history had days without one)
assert_eq 3 "$(snaps Snap)" "250 writes past a policy of every 100 writes"
for i in 1 2 3; do
  expect_exit 0 tidemark put-item --table Snap --item "{\"k\":{\"S\":\"c$i\"}}"
done
assert_eq 3 "$(snaps Snap)" "3 writes are under the policy"

# by time: every 1h of simulated time
expect_exit 0 tidemark snapshot --table Snap --snapshot-every 1h --snapshot-every-writes 0
assert_contains "$OUT" '"EverySeconds":3600'
before=$(snaps Snap)
for h in 09 10 11; do
  export TIDEMARK_CLOCK=2025-11-12T$h:30:00Z
  expect_exit 0 tidemark put-item --table Snap --item "{\"k\":{\"S\":\"t$h\"}}"
done
after=$(snaps Snap)
[ "$after" -ge $((before + 2)) ] || fail "3 writes an hour apart with an hourly policy: $before -> $after snapshots"

# on demand, and the snapshot names its log position
expect_exit 0 tidemark snapshot --table Snap
assert_contains "$OUT" '"LogSeq": 506'
expect_exit 0 tidemark describe-table --table Snap
assert_contains "$OUT" '"SnapshotEverySeconds": 3600'

# PITR enabled on an empty table: its base snapshot (seq 0) counts; a write does not take another
expect_exit 0 tidemark create-table --table Empty --key k:S
expect_exit 0 tidemark pitr enable --table Empty
assert_eq 1 "$(snaps Empty)" "the base snapshot of an empty table"
expect_exit 0 tidemark put-item --table Empty --item '{"k":{"S":"x"}}'
assert_eq 1 "$(snaps Empty)" "one write under a daily policy"

expect_exit 2 tidemark snapshot --table Snap --snapshot-every -3h
expect_exit 2 tidemark create-table --table Snap2 --key k:S --snapshot-every-writes lots
echo "tidemark_snapshot: ok"
