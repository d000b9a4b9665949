#!/usr/bin/env bash
# tidemark_full_disk.sh: a full disk is an error that says "No space left on device", never a
# crash signal (a write through LMDB's map into a sparse file used to die with SIGBUS, exit
# 135), and once space is freed every acknowledged batch is there and the table takes writes.
# Same for tidemark-import (which used to say "commit: Input/output error"). Runs on a 20 MB
# tmpfs, grown to 200 MB afterwards: needs root; prints SKIP and exits 0 where it cannot mount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
MNT=$TM_HOME/mnt
mkdir -p "$MNT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=20m tmpfs "$MNT" 2>/dev/null; then
  echo "tidemark_full_disk: SKIP: cannot mount a tmpfs (needs root)"
  exit 0
fi
trap 'umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; _tm_cleanup' EXIT
CR=$TM_ROOT/tests/crash
export TIDEMARK_HOME=$MNT/home

# gen K BATCHES: tests/crash/gen.py's shape (K items b<batch>-<i> and a put of "last" per
# batch, so check.py can tell whole batches) with items of about 200 bytes.
gen() {
  python3 - "$1" "$2" <<'PY'
import sys
k, n = int(sys.argv[1]), int(sys.argv[2])
pad = "x" * 150
w = sys.stdout.write
for b in range(1, n + 1):
    for i in range(k):
        w('{"k":{"S":"b%d-%d"},"batch":{"N":"%d"},"pad":{"S":"%s"}}\n' % (b, i, b, pad))
    w('{"k":{"S":"last"},"batch":{"N":"%d"}}\n' % b)
PY
}

remount() { # fresh, or grown to SIZE
  if [ "$1" = fresh ]; then umount "$MNT"; mount -t tmpfs -o size=20m tmpfs "$MNT"
  else mount -o remount,size="$1" "$MNT"; fi
}

# batch-write of 200,000 items in batches of BS until the disk is full, then grow it.
for bs in 100 5000; do
  K=$((bs - 1))
  gen "$K" $((200000 / bs)) > "$TM_HOME/in.jsonl"
  remount fresh
  tidemark create-table --table Full --key k:S --durability sync >/dev/null
  expect_exit 1 tidemark batch-write --table Full --file "$TM_HOME/in.jsonl" --batch-size "$bs" --print-acks
  assert_contains "$ERR" "No space left on device" "batch-write (batch size $bs) on a full disk"
  acked=$(printf '%s\n' "$OUT" | tail -n 1 | sed -n 's/^ack batch=\([0-9]*\) .*/\1/p')
  [ -n "$acked" ] && [ "$acked" -gt 0 ] || fail "batch size $bs: no batch acknowledged before the disk filled"
  # a later writer while the disk stays full: an error or a success, never a signal
  rc=0
  tidemark put-item --table Full --item '{"k":{"S":"probe"}}' >/dev/null 2>"$TM_HOME/err" || rc=$?
  [ "$rc" -le 1 ] || fail "batch size $bs: put-item on a full disk exited $rc: $(cat "$TM_HOME/err")"
  [ "$rc" = 0 ] || assert_contains "$(cat "$TM_HOME/err")" "No space left on device" "put-item on a full disk"
  remount 200m
  expect_exit 0 tidemark put-item --table Full --item '{"k":{"S":"probe"}}'
  tidemark scan --table Full > "$TM_HOME/scan.jsonl"
  present=$(python3 "$CR/check.py" "$K" "$acked" < "$TM_HOME/scan.jsonl") ||
    fail "batch size $bs: acknowledged batches missing after space was freed (acked $acked)"
  expect_exit 0 tidemark log verify --table Full
  assert_contains "$OUT" "OK"
  echo "tidemark_full_disk: batch size $bs: exit 1 with ENOSPC after $acked acknowledged batches; $present present once grown"
done

# tidemark-import into a full disk: no table, the lack of space named; then it fits.
gen 99 2000 > "$TM_HOME/in.jsonl"
remount fresh
mkdir -p "$TIDEMARK_HOME"
expect_exit 1 tidemark-import --from "$TM_HOME/in.jsonl" --table Imp --key k:S
assert_contains "$ERR" "No space left on device" "tidemark-import on a full disk"
expect_exit 1 tidemark describe-table --table Imp
[ -z "$(ls -A "$TIDEMARK_HOME/tables" 2>/dev/null)" ] || fail "a failed import left $(ls -A "$TIDEMARK_HOME/tables")"
remount 200m
expect_exit 0 tidemark-import --from "$TM_HOME/in.jsonl" --table Imp --key k:S
expect_exit 0 tidemark describe-table --table Imp
assert_contains "$OUT" '"ItemCount": 198001'   # 2000 batches of 99 + the one "last"

# tidemark-restore with 4 MB left: no table, the lack of space named; then it fits.
gen 99 300 > "$TM_HOME/in.jsonl"
tidemark create-table --table Src --key k:S >/dev/null
tidemark pitr enable --table Src >/dev/null
tidemark batch-write --table Src --file "$TM_HOME/in.jsonl" --batch-size 100 >/dev/null 2>&1
tidemark snapshot --table Src >/dev/null
avail=$(df -k --output=avail "$MNT" | tail -n 1)
fallocate -l $(( (avail - 4096) * 1024 )) "$MNT/filler"
expect_exit 1 tidemark-restore --table Src --target Dst --latest
assert_contains "$ERR" "No space left on device" "tidemark-restore on a full disk"; echo "tidemark_full_disk: restore: $ERR"
expect_exit 1 tidemark describe-table --table Dst
[ -z "$(ls -A "$TIDEMARK_HOME/tables" | grep -v '^Imp$\|^Src$')" ] || fail "a failed restore left $(ls -A "$TIDEMARK_HOME/tables")"
rm -f "$MNT/filler"
expect_exit 0 tidemark-restore --table Src --target Dst --latest
[ "$(tidemark scan --table Dst | wc -l)" = 29701 ] || fail "the restore after freeing space holds $(tidemark scan --table Dst | wc -l) items"
echo "tidemark_full_disk: OK"
