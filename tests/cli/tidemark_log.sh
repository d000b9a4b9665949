#!/usr/bin/env bash
# tidemark_log.sh: the change log's repair and checks as a person meets them:
#  - a crash while a batch was being logged leaves a torn tail (the batch is in the log only in
#    part, and not in the items): the next write cuts it, reports segment and offset, and goes on;
#  - a batch fully logged but not yet applied to the items is replayed by the next write;
#  - a flipped byte in a sealed segment is reported by `log verify` with segment and offset.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
T=$TM_HOME/tables

# ---- torn tail: state of a crash in the middle of logging batch B (items lack B, log has part of it)
tidemark create-table --table Torn --key k:N >/dev/null
batch Torn 1 50                                   # batch A
cp -a "$T/Torn/items" "$TM_HOME/items-after-A"
size_a=$(stat -c %s "$T/Torn/log/"*.log)
batch Torn 51 100                                 # batch B
size_b=$(stat -c %s "$T/Torn/log/"*.log)
rm -rf "$T/Torn/items" && cp -a "$TM_HOME/items-after-A" "$T/Torn/items"
cut=$(( size_a + (size_b - size_a) / 2 + 7 ))     # somewhere inside B's records
truncate -s "$cut" "$T/Torn/log/"*.log
seg=$(basename "$T/Torn/log/"*.log)
expect_exit 0 tidemark log verify --table Torn     # readers ignore an uncommitted tail
expect_exit 0 tidemark put-item --table Torn --item '{"k":{"N":"1000"}}'
assert_contains "$ERR" "recovery: table Torn: cut a torn log tail in segment $seg at offset $size_a"
assert_contains "$ERR" "$(( cut - size_a )) bytes"
assert_eq 51 "$(count Torn)" "A and the new item, none of B"
expect_exit 0 tidemark get-item --table Torn --key '{"k":{"N":"75"}}'
assert_eq '{}' "$OUT" "no half of B"
expect_exit 0 tidemark log verify --table Torn
assert_contains "$OUT" "OK, 51 records"
batch Torn 51 100
assert_eq 101 "$(count Torn)" "writes go on after recovery"
expect_exit 0 tidemark log verify --table Torn
assert_contains "$OUT" "OK, 101 records"

# ---- replay: B fully in the log, not in the items (a crash between log fsync and LMDB commit)
tidemark create-table --table Replay --key k:N >/dev/null
batch Replay 1 30
cp -a "$T/Replay/items" "$TM_HOME/replay-items"
batch Replay 31 60
rm -rf "$T/Replay/items" && cp -a "$TM_HOME/replay-items" "$T/Replay/items"
expect_exit 0 tidemark put-item --table Replay --item '{"k":{"N":"1000"}}'
assert_contains "$ERR" "replayed 30 logged writes"
assert_eq 61 "$(count Replay)" "replayed batch present"

# ---- a flipped byte in a sealed segment: log verify names segment and offset, exits 1
TIDEMARK_SEGMENT_BYTES=4096 tidemark create-table --table Flip --key k:N >/dev/null
tidemark pitr enable --table Flip >/dev/null        # keeps sealed segments (else retention drops them)
for b in $(seq 0 9); do batch Flip $((b * 40 + 1)) $((b * 40 + 40)); done
sealed=$(ls "$T/Flip/log" | grep -E '\.(lz4|zst)$' | head -n 2 | tail -n 1)
[ -n "$sealed" ] || fail "no sealed segment with TIDEMARK_SEGMENT_BYTES=4096: $(ls "$T/Flip/log")"
nseg=$(ls "$T/Flip/log" | grep -cE '\.(lz4|zst|log)$')
expect_exit 0 tidemark log verify --table Flip
assert_contains "$OUT" "OK, 400 records in $nseg segments"
f="$T/Flip/log/$sealed"
off=$(( $(stat -c %s "$f") / 2 ))
byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
printf "$(printf '\\%03o' $(( byte ^ 0x5a )))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
expect_exit 1 tidemark log verify --table Flip
assert_contains "$OUT" "segment $sealed offset"
assert_contains "$OUT" "problems found"
# the header too
cp "$f" "$TM_HOME/sealed.bak"
printf '\377' | dd of="$f" bs=1 seek=20 conv=notrunc status=none
expect_exit 1 tidemark log verify --table Flip
assert_contains "$OUT" "segment $sealed offset"
echo "tidemark_log: OK"
