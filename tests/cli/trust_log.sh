#!/usr/bin/env bash
# trust_log.sh: what readers and recovery make of a log that is ahead of the items, damaged, or
# missing a segment (issue 11, items 1, 4 and 5):
#  - acknowledged writes that live only in the log (a writer killed between its log commit and
#    its LMDB commit) are seen by every fresh reader before any writer runs: scan, get-item,
#    describe-table, tidemark-export and tidemark-restore --latest;
#  - a flipped bit in the last record of the active segment, whose writes the items hold, is
#    damage, not a torn tail: verify reports it, the next writer cuts nothing, says what happened
#    and goes on; the lost seqs are a gap that pitr status and restore report;
#  - a deleted sealed segment (the last one, or the first) is reported by log verify and pitr
#    status, and an incremental export over it refuses instead of exporting part of the window.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
T=$TM_HOME/tables

# ---- 1. the log is ahead of the items: every reader catches up before it reads
tidemark create-table --table Ack --key k:N >/dev/null
tidemark pitr enable --table Ack >/dev/null
batch Ack 1 30
cp -a "$T/Ack/items" "$TM_HOME/ack-items"
batch Ack 31 60
lag() { rm -rf "$T/Ack/items" && cp -a "$TM_HOME/ack-items" "$T/Ack/items"; }  # the crash's state
lag
assert_eq 60 "$(count Ack)" "scan after the crash, before any writer"
lag
expect_exit 0 tidemark get-item --table Ack --key '{"k":{"N":"45"}}'
assert_contains "$OUT" '"45"' "get-item of an acknowledged write"
lag
expect_exit 0 tidemark describe-table --table Ack
assert_contains "$OUT" '"ItemCount": 60'
lag
expect_exit 0 tidemark-export --table Ack --to "$TM_HOME/exp"
id=$(ls "$TM_HOME/exp/AWSDynamoDB")
assert_contains "$(cat "$TM_HOME/exp/AWSDynamoDB/$id/manifest-summary.json")" '"itemCount":60'
lag
expect_exit 0 tidemark-restore --table Ack --target AckR --latest
assert_eq 60 "$(count AckR)" "restore --latest"
expect_exit 0 tidemark log verify --table Ack
assert_contains "$OUT" "OK, 60 records"

# ---- 4. a damaged last record that the items hold: damage, not a torn tail
export TIDEMARK_CLOCK=2026-01-01T00:00:00Z
tidemark create-table --table Dmg --key k:N --durability sync >/dev/null
tidemark pitr enable --table Dmg >/dev/null
export TIDEMARK_CLOCK=2026-01-01T01:00:00Z
for b in 0 1 2 3 4; do batch Dmg $((b * 10 + 1)) $((b * 10 + 10)); done
seg=$(ls "$T/Dmg/log" | grep '\.log$')
f=$T/Dmg/log/$seg
size=$(stat -c %s "$f")
# one bit in the new image of the last record (its last 8 bytes are the checksum)
off=$((size - 12))
byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 4)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
export TIDEMARK_CLOCK=2026-01-01T02:00:00Z
expect_exit 1 tidemark log verify --table Dmg
assert_contains "$OUT" "seqs 41..50 are missing"
expect_exit 0 tidemark put-item --table Dmg --item '{"k":{"N":"1000"}}'
assert_contains "$ERR" "log segment $seg is damaged at offset"
assert_contains "$ERR" "nothing was cut"
case "$ERR" in *"torn"*) fail "damage reported as a torn tail: $ERR" ;; esac
assert_eq "$size" "$(stat -c %s "$f")" "the damaged segment is kept as it is"
assert_eq 51 "$(count Dmg)" "every acknowledged write and the new one"
expect_exit 0 tidemark put-item --table Dmg --item '{"k":{"N":"1001"}}'   # writable for good
assert_eq "" "$ERR" "a later write repairs nothing more"
expect_exit 1 tidemark log verify --table Dmg
assert_contains "$OUT" "segment $seg offset"
assert_contains "$OUT" "seqs 41..50 are missing"
expect_exit 0 tidemark pitr status --table Dmg
assert_contains "$OUT" '"FirstMissingSeq": 41'
assert_contains "$OUT" '"LastMissingSeq": 50'
assert_contains "$ERR" "cannot be restored"
# the state in the gap cannot be rebuilt; after it, it can (backward from the live table)
expect_exit 1 tidemark-restore --table Dmg --target DmgGap --time 2026-01-01T01:00:00.000045Z
expect_exit 0 tidemark-restore --table Dmg --target DmgNow --latest
assert_eq 52 "$(count DmgNow)"

# ---- 5. a missing sealed segment: the last one, then the first one
sealed_table() {  # NAME: PITR on at 00:00, 400 items in 10 batches at 01:00, small segments
  export TIDEMARK_CLOCK=2026-01-01T00:00:00Z
  TIDEMARK_SEGMENT_BYTES=4096 tidemark create-table --table "$1" --key k:N >/dev/null
  tidemark pitr enable --table "$1" >/dev/null
  export TIDEMARK_CLOCK=2026-01-01T01:00:00Z
  for b in $(seq 0 9); do batch "$1" $((b * 40 + 1)) $((b * 40 + 40)); done
  export TIDEMARK_CLOCK=2026-01-01T02:00:00Z
}
sealed_table Gap
expect_exit 0 tidemark log verify --table Gap
assert_contains "$OUT" "OK, 400 records"
last_sealed=$(ls "$T/Gap/log" | grep -E '\.(lz4|zst)$' | tail -n 1)
rm "$T/Gap/log/$last_sealed"
expect_exit 1 tidemark log verify --table Gap
assert_contains "$OUT" "are missing"
expect_exit 0 tidemark pitr status --table Gap
assert_contains "$OUT" '"UnrestorableGaps"'
expect_exit 1 tidemark-export --table Gap --to "$TM_HOME/gapexp" --incremental \
  --from 2026-01-01T00:30:00Z --until 2026-01-01T01:30:00Z
assert_contains "$ERR" "are missing"
[ ! -e "$TM_HOME/gapexp/AWSDynamoDB" ] || [ -z "$(find "$TM_HOME/gapexp" -name manifest-summary.json)" ] ||
  fail "an incremental export over a missing segment looks complete"

sealed_table Head
first=$(ls "$T/Head/log" | grep -E '\.(lz4|zst)$' | head -n 1)
rm "$T/Head/log/$first"
expect_exit 1 tidemark log verify --table Head
assert_contains "$OUT" "the log's origin is seq 1"
expect_exit 0 tidemark pitr status --table Head
assert_contains "$OUT" '"FirstMissingSeq": 1,'
assert_contains "$OUT" '"EarliestRestorableDateTime": "2026-01-01T01:00:00.000' "the window starts after the lost head"
expect_exit 1 tidemark-restore --table Head --target HeadR --time 2026-01-01T00:30:00Z
# a truncated active segment (all its records gone): verify names it, the newest segment
tidemark create-table --table Cut --key k:N >/dev/null
batch Cut 1 20
cutseg=$(ls "$T/Cut/log" | grep '\.log$')
truncate -s 80 "$T/Cut/log/$cutseg"
expect_exit 1 tidemark log verify --table Cut
assert_contains "$OUT" "segment $cutseg offset 0: seqs 1..20 are missing"

# ---- table.json carries a checksum: a flipped bit is an error naming it, never other settings
unset TIDEMARK_CLOCK
f=$T/Ack/table.json
cp "$f" "$TM_HOME/table.json.bak"
sed -i 's/"Enabled":true/"Enabled":trve/; t; s/"Durability":"sync"/"Durability":"synd"/' "$f"
cmp -s "$f" "$TM_HOME/table.json.bak" && fail "the test did not change table.json"
expect_exit 1 tidemark describe-table --table Ack
assert_contains "$ERR" "$f: damaged"
cp "$TM_HOME/table.json.bak" "$f"
python3 - "$f" <<'PY'
import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
i = b.index(b'"Pitr"') + 2; b[i] ^= 1   # "Pitr" -> "Phtr": valid JSON, PITR would read as off
open(p, 'wb').write(bytes(b))
PY
expect_exit 1 tidemark pitr status --table Ack
assert_contains "$ERR" "$f: damaged (checksum mismatch)"
cp "$TM_HOME/table.json.bak" "$f"
expect_exit 0 tidemark pitr status --table Ack
echo "trust_log: OK"
