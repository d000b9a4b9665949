#!/usr/bin/env bash
# tidemark_damage.sh: a damaged items file (tables/<t>/items/data.mdb) is reported with its file,
# never a crash signal and never exit 0 with wrong data:
#   - pages of random bytes: scan, get-item and tidemark-export exit 0 with the right data (the
#     page was not in use) or 1 naming data.mdb (LMDB's faults and asserts end in the guard;
#     a walk led astray is caught by key order and by the tree's own count);
#   - a same-length change inside a value (LMDB and the item encoding carry no checksum) is
#     found by `tidemark items verify` against the snapshot + log rebuild, naming the key;
#   - a truncated file (1 MB) is refused at open with "truncated", where it was a SIGBUS;
#   - a deleted file is "missing", where it read as an empty table (and exported 0 items).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
T=Dmg
F=$TM_HOME/tables/$T/items/data.mdb
python3 - > "$TM_HOME/in.jsonl" <<'PY'
pad = "y" * 150
for i in range(25000):
    print('{"k":{"S":"k%07d"},"v":{"S":"%s"},"n":{"N":"%d"}}' % (i, pad, i))
PY
tidemark create-table --table $T --key k:S >/dev/null
tidemark pitr enable --table $T >/dev/null
head -n 20000 "$TM_HOME/in.jsonl" | tidemark batch-write --table $T --file - 2>/dev/null
tidemark snapshot --table $T >/dev/null
tail -n 5000 "$TM_HOME/in.jsonl" | tidemark batch-write --table $T --file - 2>/dev/null
tidemark scan --table $T > "$TM_HOME/good.scan"
cp "$F" "$TM_HOME/good.mdb"
restore_good() { cp "$TM_HOME/good.mdb" "$F"; }

expect_exit 0 tidemark items verify --table $T
assert_contains "$OUT" "OK, 25000 items at seq 25000 match the rebuild"

# no_signal WHAT RC: a crash signal (exit >= 128) is always a failure
no_signal() { [ "$2" -lt 128 ] || fail "$1 died by signal (exit $2): $(head -c 500 "$TM_HOME/err")"; }
run() { # run NAME cmd...: stdout in $TM_HOME/out, stderr in $TM_HOME/err, exit status in $rc
  local name=$1; shift
  rc=0; "$@" > "$TM_HOME/out" 2> "$TM_HOME/err" || rc=$?
  no_signal "$name" "$rc"
}

# ---- pages of random bytes (deterministic per page), across the used file
last=$(python3 -c "
import struct; d = open('$F', 'rb').read(8192)
m = [struct.unpack_from('<QQ', d, o + 136) for o in (0, 4096)]
print(max(m, key=lambda x: x[1])[0])")
pages=0 caught=0 harmless=0
for ((pg = 2; pg <= last; pg += 127)); do
  restore_good
  python3 -c "
import random; r = random.Random($pg); f = open('$F', 'r+b'); f.seek($pg * 4096)
f.write(bytes(r.getrandbits(8) for _ in range(4096)))"
  pages=$((pages + 1))
  run "scan (page $pg)" tidemark scan --table $T
  if [ "$rc" = 0 ]; then
    cmp -s "$TM_HOME/out" "$TM_HOME/good.scan" || fail "page $pg: scan exit 0 with wrong data"
    harmless=$((harmless + 1))
  else
    assert_contains "$(cat "$TM_HOME/err")" "data.mdb" "scan error (page $pg)"
    caught=$((caught + 1))
    run "items verify (page $pg)" tidemark items verify --table $T
    [ "$rc" = 1 ] || fail "page $pg: scan failed but items verify exited $rc"
  fi
  run "get-item (page $pg)" tidemark get-item --table $T --key '{"k":{"S":"k0012345"}}'
  [ "$rc" = 0 ] || assert_contains "$(cat "$TM_HOME/err")" "data.mdb" "get-item error (page $pg)"
  run "export (page $pg)" tidemark-export --table $T --to "$TM_HOME/exp$pg"
  [ "$rc" = 0 ] || assert_contains "$(cat "$TM_HOME/err")" "data.mdb" "export error (page $pg)"
  rm -rf "$TM_HOME/exp$pg"
done
[ "$caught" -gt 0 ] || fail "no damaged page was noticed in $pages pages: the test does not test"
echo "tidemark_damage: $pages damaged pages: $caught reported with the file, $harmless unused (right data)"

# ---- cut while a reader has it mapped: the reader's next page past the end is a SIGBUS,
# which the crash guard reports with the file (a scan blocked on a full pipe meanwhile)
restore_good
mkfifo "$TM_HOME/fifo"
tidemark scan --table $T > "$TM_HOME/fifo" 2> "$TM_HOME/err" &
pid=$!
exec 3< "$TM_HOME/fifo"
sleep 0.5
truncate -s 1M "$F"
cat <&3 > /dev/null
exec 3<&-
rc=0; wait "$pid" || rc=$?
no_signal "scan of a file cut under it" "$rc"
[ "$rc" = 1 ] || fail "scan of a file cut under it exited $rc"
assert_contains "$(cat "$TM_HOME/err")" "$F: truncated: 1048576 bytes, a page at offset" "the guard's message"
assert_contains "$(cat "$TM_HOME/err")" "(signal SIGBUS)"

# ---- a same-length change inside one value: only items verify can tell
restore_good
python3 - "$F" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); data = f.read()
pat = b"\x01\x08k0000500"         # the item's own k attribute; its v attribute follows
i = data.find(pat)
while i >= 0:                      # every copy (LMDB keeps old ones in free pages)
    j = data.find(b"y" * 20, i, i + 80)
    if j > 0: f.seek(j + 5); f.write(b"z")
    i = data.find(pat, i + 1)
PY
expect_exit 0 tidemark get-item --table $T --key '{"k":{"S":"k0000500"}}'
assert_contains "$OUT" "z" "the changed value"
expect_exit 1 tidemark items verify --table $T
assert_contains "$OUT" '{"k":{"S":"k0000500"}}: differs from the snapshot + log rebuild'
assert_contains "$OUT" "1 problem found"

# ---- truncated to 1 MB: refused at open, naming the file
restore_good
truncate -s 1M "$F"
for cmd in "tidemark scan --table $T" "tidemark get-item --table $T --key {\"k\":{\"S\":\"k0000001\"}}" \
           "tidemark put-item --table $T --item {\"k\":{\"S\":\"new\"}}" "tidemark items verify --table $T" \
           "tidemark-export --table $T --to $TM_HOME/exp-trunc"; do
  run "$cmd" $cmd
  [ "$rc" = 1 ] || fail "truncated file: $cmd exited $rc: $(cat "$TM_HOME/err")"
  assert_contains "$(cat "$TM_HOME/err")" "$F: truncated: 1048576 bytes, needs at least" "$cmd"
done
[ "$(stat -c %s "$F")" = 1048576 ] || fail "a reader or writer changed the truncated file's size"
# a restore may use the snapshot and the log instead: right data, or a refusal
run "restore" tidemark-restore --table $T --target Restored --latest
if [ "$rc" = 0 ]; then
  tidemark scan --table Restored | cmp -s - "$TM_HOME/good.scan" || fail "restore from a truncated table: wrong data"
fi

# ---- data.mdb deleted: an error naming it, never an empty table
rm -f "$F"
for cmd in "tidemark scan --table $T" "tidemark describe-table --table $T" \
           "tidemark-export --table $T --to $TM_HOME/exp-missing"; do
  run "$cmd" $cmd
  [ "$rc" = 1 ] || fail "missing file: $cmd exited $rc: $(head -c 300 "$TM_HOME/out")"
  assert_contains "$(cat "$TM_HOME/err")" "$F: missing" "$cmd"
done
[ ! -e "$F" ] || fail "a reader created a fresh items file"
echo "tidemark_damage: OK"
