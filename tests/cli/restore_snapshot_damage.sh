#!/usr/bin/env bash
# restore_snapshot_damage.sh: a damaged snapshot never gives a wrong restore. Snapshots carry an
# XXH3_64 of their data.mdb; a restore checks it while copying. One flipped byte inside an item,
# a 4 KiB page of random bytes, a truncated file: the restore says on stderr which snapshot was
# damaged and skipped and succeeds through another plan with exactly the model's items, or,
# when no plan is left, refuses with exit 1 naming the file. Never a signal, never exit 0 with
# wrong data. `tidemark snapshot verify` finds the same damage; a snapshot without a checksum
# (format 1) is never a seed, and `tidemark snapshot` at the same position replaces it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
export TIDEMARK_SEGMENT_BYTES=200000
N=6000
# items FROM TO TAG: one JSON line per item, key k<i>, value naming TAG (the model's input)
items() {
  python3 -c 'import sys
a, b, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(a, b):
    print("{\"k\":{\"S\":\"k%05d\"},\"v\":{\"S\":\"%s-%05d-%s\"}}" % (i, tag, i, "x" * 120))' "$@"
}
# model FILE...: the items after loading FILEs in order (later lines win), one sorted
# canonical JSON line per item; scanned TABLE: the same for a table's scan
model() { cat "$@" | python3 -c 'import json,sys
m = {}
for l in sys.stdin:
    it = json.loads(l); m[it["k"]["S"]] = it
for k in sorted(m): print(json.dumps(m[k], sort_keys=True))'; }
scanned() {
  expect_exit 0 tidemark scan --table "$1"
  python3 -c 'import json,sys
rows = [json.loads(l)["Item"] for l in sys.stdin if l.strip()]
for it in sorted(rows, key=lambda x: x["k"]["S"]): print(json.dumps(it, sort_keys=True))' <<<"$OUT"
}
snapdir() { echo "$TM_HOME/tables/$1/snapshots/$2"; }

# ---- history: a load, snapshot S1, 600 updates, snapshot S2, 600 more ----
items 0 "$N" load > "$TM_HOME/load.jsonl"
items 1000 1600 upd1 > "$TM_HOME/upd1.jsonl"
items 3000 3600 upd2 > "$TM_HOME/upd2.jsonl"
export TIDEMARK_CLOCK=2025-11-12T08:00:00Z
expect_exit 0 tidemark create-table --table Src --key k:S --snapshot-every 0
expect_exit 0 tidemark pitr enable --table Src
expect_exit 0 tidemark batch-write --table Src --file "$TM_HOME/load.jsonl"
export TIDEMARK_CLOCK=2025-11-12T09:00:00Z
expect_exit 0 tidemark snapshot --table Src
S1=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["Snapshot"]["Name"])' <<<"$OUT")
export TIDEMARK_CLOCK=2025-11-12T09:30:00Z
expect_exit 0 tidemark batch-write --table Src --file "$TM_HOME/upd1.jsonl"
export TIDEMARK_CLOCK=2025-11-12T10:00:00Z
expect_exit 0 tidemark snapshot --table Src
S2=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["Snapshot"]["Name"])' <<<"$OUT")
assert_contains "$OUT" '"Xxh3"'
assert_contains "$(cat "$(snapdir Src "$S2")/snap.json")" '"Version":2'
export TIDEMARK_CLOCK=2025-11-12T10:30:00Z
expect_exit 0 tidemark batch-write --table Src --file "$TM_HOME/upd2.jsonl"
export TIDEMARK_CLOCK=2025-11-12T11:00:00Z
T=2025-11-12T09:45:00Z                  # after upd1, before upd2: S2's state
want=$(model "$TM_HOME/load.jsonl" "$TM_HOME/upd1.jsonl")
expect_exit 0 tidemark snapshot verify --table Src
assert_contains "$OUT" "OK, 3 snapshots verified"
# undamaged: the plan takes S2, and the result is the model
expect_exit 0 tidemark-restore --table Src --target Good --time "$T" --dry-run
assert_contains "$OUT" "seed:       snapshot $S2"
expect_exit 0 tidemark-restore --table Src --target Good --time "$T"
[ "$(scanned Good)" = "$want" ] || fail "the undamaged restore differs from the model"

# copy SRC NAME: a copy of table Src, as a person would make one
copy() { cp -r "$TM_HOME/tables/Src" "$TM_HOME/tables/$1"; rm -f "$TM_HOME/tables/$1/items/lock.mdb"; }
# restored_right TABLE DIRECTION: restore at T: stderr names the damaged S2 (unless the
# direction never plans with it), and the items are the model's
restored_right() {
  local tab=$1 dir=$2 tgt="${1}_$2"
  expect_exit 0 tidemark-restore --table "$tab" --target "$tgt" --time "$T" --direction "$dir"
  if [ "$dir" != backward ]; then
    assert_contains "$ERR" "snapshot $S2 of table $tab is damaged and was skipped"
    assert_contains "$ERR" "$(snapdir "$tab" "$S2")/data.mdb"
  fi
  [ "$(scanned "$tgt")" = "$want" ] || fail "$tab ($dir): the restore differs from the model"
}

# ---- one flipped byte inside an item's value ----
copy Flip
f=$(snapdir Flip "$S2")/data.mdb
off=$(grep -oba 'upd1-01234' "$f" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "value not found in $f"
printf 'U' | dd of="$f" bs=1 seek=$((off + 1)) conv=notrunc 2>/dev/null
restored_right Flip auto
assert_contains "$ERR" "checksum mismatch"
restored_right Flip forward            # forward from S1 instead
expect_exit 1 tidemark snapshot verify --table Flip
assert_contains "$OUT" "snapshot $S2: $f: checksum mismatch"
assert_contains "$OUT" "1 damaged snapshot (2 verified)"

# ---- a 4 KiB page of random bytes in the middle ----
copy Page
f=$(snapdir Page "$S2")/data.mdb
pages=$(( $(stat -c %s "$f") / 4096 ))
python3 -c 'import random,sys
random.seed(11)
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]) * 4096); f.write(bytes(random.getrandbits(8) for _ in range(4096)))' "$f" $((pages / 2))
restored_right Page auto
restored_right Page backward           # backward from the live table instead
expect_exit 1 tidemark snapshot verify --table Page

# ---- truncated to 64 KiB (a map of it would SIGBUS) ----
copy Trunc
f=$(snapdir Trunc "$S2")/data.mdb
truncate -s 65536 "$f"
restored_right Trunc auto
assert_contains "$ERR" "65536 bytes, snap.json says"
restored_right Trunc forward

# ---- no plan left: S2 damaged, forward only, and the log between S1 and S2 gone ----
copy None
f=$(snapdir None "$S2")/data.mdb
printf '\xff\xff\xff\xff' | dd of="$f" bs=1 seek=200000 conv=notrunc 2>/dev/null
expect_exit 0 tidemark --json log list --table None
seg=$(python3 -c 'import json,sys
s1, s2 = int(sys.argv[1], 16), int(sys.argv[2], 16)
for x in json.load(sys.stdin)["Segments"]:
    if x["Sealed"] and x["FirstSeq"] > s1 and x["LastSeq"] <= s2: print(x["Name"]); break' "$S1" "$S2" <<<"$OUT")
[ -n "$seg" ] || fail "no sealed segment between $S1 and $S2"
rm "$TM_HOME/tables/None/log/$seg"
expect_exit 1 tidemark-restore --table None --target Never --time "$T" --direction forward
assert_contains "$ERR" "$f"
assert_contains "$ERR" "no other plan is left"
[ ! -e "$TM_HOME/tables/Never" ] || fail "a refused restore left table Never"

# ---- a snapshot without a checksum (written by an older tidemark) is not trusted ----
copy Old
python3 -c 'import json,sys
p = sys.argv[1]; j = json.load(open(p))
for k in ("Version", "Xxh3"): j.pop(k)
json.dump(j, open(p, "w"))' "$(snapdir Old "$S2")/snap.json"
expect_exit 0 tidemark snapshot verify --table Old
assert_contains "$OUT" "snapshot $S2: no checksum"
expect_exit 0 tidemark-restore --table Old --target Old_r --time "$T" --dry-run
[[ "$OUT" != *"snapshot $S2"* ]] || fail "a snapshot without a checksum was planned with: $OUT"
expect_exit 0 tidemark-restore --table Old --target Old_r --time "$T"
[ "$(scanned Old_r)" = "$want" ] || fail "Old: the restore differs from the model"

# ---- `tidemark snapshot` at the same position replaces one without a checksum, or damaged ----
snapname() { python3 -c 'import json,sys; print(json.load(sys.stdin)["Snapshot"]["Name"])' <<<"$OUT"; }
expect_exit 0 tidemark create-table --table Rep --key k:S --snapshot-every 0
expect_exit 0 tidemark batch-write --table Rep --file "$TM_HOME/upd1.jsonl"
expect_exit 0 tidemark snapshot --table Rep
R=$(snapname)
j=$(snapdir Rep "$R")/snap.json
python3 -c 'import json,sys
p = sys.argv[1]; j = json.load(open(p))
for k in ("Version", "Xxh3"): j.pop(k)
json.dump(j, open(p, "w"))' "$j"
expect_exit 0 tidemark snapshot --table Rep
assert_eq "$R" "$(snapname)" "the same position"
assert_contains "$(cat "$j")" '"Version":2'
printf 'Z' | dd of="$(snapdir Rep "$R")/data.mdb" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_exit 1 tidemark snapshot verify --table Rep
expect_exit 0 tidemark snapshot --table Rep
expect_exit 0 tidemark snapshot verify --table Rep
assert_contains "$OUT" "OK, 1 snapshot verified"
echo "restore_snapshot_damage: OK"
