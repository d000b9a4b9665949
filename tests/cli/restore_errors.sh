#!/usr/bin/env bash
# restore_errors.sh: tidemark-restore's refusals are clear, exit with the documented codes and
# create nothing: usage errors (2), times outside the window, an existing target, PITR off, no
# such table, a log segment deleted by hand, a corrupt segment (1). Plus --help and --version.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
export TIDEMARK_SEGMENT_BYTES=2500
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
# nothing but the expected tables, and no staging directory left under tables/
tables_are() {
  expect_exit 0 tidemark list-tables
  assert_eq "$1" "$(python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["TableNames"]))' <<<"$OUT")" "tables"
  local hidden; hidden=$(find "$TM_HOME/tables" -mindepth 1 -maxdepth 1 -name '.*' | head -3)
  [ -z "$hidden" ] || fail "left behind: $hidden"
}

# ---- --help, --version, usage errors ----
expect_exit 0 tidemark-restore --help
assert_contains "$OUT" "tidemark-import"
assert_contains "$OUT" "Examples:"
assert_contains "$OUT" "--dry-run"
expect_exit 0 tidemark-restore --version
assert_contains "$OUT" "tidemark-restore"
expect_exit 2 tidemark-restore --target New --latest
assert_contains "$ERR" "--table"
expect_exit 2 tidemark-restore --table Src --latest
assert_contains "$ERR" "--target"
expect_exit 2 tidemark-restore --table Src --target New
assert_contains "$ERR" "exactly one of --time and --latest"
expect_exit 2 tidemark-restore --table Src --target New --latest --time -1h
expect_exit 2 tidemark-restore --table Src --target New --time yesterday-ish
assert_contains "$ERR" "yesterday-ish"
expect_exit 2 tidemark-restore --table Src --target New --latest --frobnicate
assert_contains "$ERR" "--frobnicate"
expect_exit 2 tidemark-restore --table Src --target New --latest --direction sideways
expect_exit 2 tidemark-restore --table Src --target New --latest extra
expect_exit 2 tidemark-restore --table Src --target

# ---- a source with a history of 60 writes over 30 days ----
at 2025-10-01T00:00:00Z tidemark create-table --table Src --key Id:S >/dev/null
at 2025-10-01T00:00:00Z tidemark pitr enable --table Src >/dev/null
T0=$(date -u -d 2025-10-01T00:00:00Z +%s)
for ((i = 1; i <= 60; i++)); do
  t=$((T0 + i * 43200))
  TIDEMARK_CLOCK=$t tidemark put-item --table Src \
    --item "{\"Id\":{\"S\":\"k$((i % 17))\"},\"n\":{\"N\":\"$i\"},\"pad\":{\"S\":\"$(printf '%080d' "$i")\"}}"
done
export TIDEMARK_CLOCK=2025-10-31T12:00:00Z
tables_are "Src"

# ---- outside the window, on both sides; PITR off; no such table; target exists ----
expect_exit 1 tidemark-restore --table Src --target New --time 2025-09-30T23:59:59Z
assert_contains "$ERR" "InvalidRestoreTimeException: 2025-09-30T23:59:59.000000Z is outside the restorable window [2025-10-01T00:00:00.000000Z, 2025-10-31T12:00:00.000000Z]"
expect_exit 1 tidemark-restore --table Src --target New --time 2025-10-31T12:00:01Z
assert_contains "$ERR" "InvalidRestoreTime"
expect_exit 1 tidemark-restore --table Src --target New --time 2025-10-31T12:00:01Z --dry-run
assert_contains "$ERR" "InvalidRestoreTime"
tables_are "Src"
expect_exit 1 tidemark-restore --table Nope --target New --latest
assert_contains "$ERR" "Nope"
expect_exit 1 tidemark-restore --table Src --target Src --latest
assert_contains "$ERR" "already exists"
at 2025-10-02T00:00:00Z tidemark create-table --table Other --key Id:S >/dev/null
tidemark put-item --table Other --item '{"Id":{"S":"mine"}}'
expect_exit 1 tidemark-restore --table Src --target Other --time 2025-10-15T00:00:00Z
assert_contains "$ERR" "TableAlreadyExistsException: table Other already exists"
expect_exit 0 tidemark scan --table Other
assert_eq '{"Item":{"Id":{"S":"mine"}}}' "$OUT" "the existing target"
expect_exit 1 tidemark-restore --table Other --target New --latest
assert_contains "$ERR" "PointInTimeRecoveryUnavailableException: point-in-time recovery is not enabled for table Other"
tables_are "Other Src"

# ---- a log segment deleted by hand ----
cp -r "$TM_HOME/tables/Src" "$TM_HOME/tables/Gap"; rm -f "$TM_HOME/tables/Gap/items/lock.mdb"
expect_exit 0 tidemark --json log list --table Gap
read -r gname gfirst glast gft glt < <(python3 -c 'import json,sys
s=[x for x in json.load(sys.stdin)["Segments"] if x["Sealed"]]
g=s[len(s)//2]; print(g["Name"], g["FirstSeq"], g["LastSeq"], g["FirstTime"], g["LastTime"])' <<<"$OUT")
rm "$TM_HOME/tables/Gap/log/$gname"
mid=$(( ($(date -u -d "$gft" +%s) + $(date -u -d "$glt" +%s)) / 2 ))
expect_exit 1 tidemark-restore --table Gap --target New --time "$mid"
assert_contains "$ERR" "missing"
python3 - "$ERR" "$gfirst" "$glast" <<'EOF' || fail "the error does not name the missing seqs: $ERR"
import re, sys
msg, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
assert any(int(a) <= hi and int(b) >= lo for a, b in re.findall(r"(\d+)\.\.(\d+)", msg))
EOF
expect_exit 1 tidemark-restore --table Gap --target New --time "$mid" --dry-run
assert_contains "$ERR" "missing"
before=$(( $(date -u -d "$gft" +%s) - 1 ))
expect_exit 1 tidemark-restore --table Gap --target New --time "$before" --direction backward
assert_contains "$ERR" "missing"
tables_are "Gap Other Src"
# far from the gap, a plan without it still works and is right
expect_exit 0 tidemark-restore --table Gap --target AfterGap --time 2025-10-30T18:00:00Z
expect_exit 0 tidemark-restore --table Src --target AfterSrc --time 2025-10-30T18:00:00Z
[ "$(tidemark scan --table AfterGap | sort)" = "$(tidemark scan --table AfterSrc | sort)" ] ||
  fail "restore past a deleted segment differs"

# ---- a corrupt segment: the error names it ----
cp -r "$TM_HOME/tables/Src" "$TM_HOME/tables/Bad"; rm -f "$TM_HOME/tables/Bad/items/lock.mdb"
expect_exit 0 tidemark --json log list --table Bad
read -r bname bft blt < <(python3 -c 'import json,sys
s=[x for x in json.load(sys.stdin)["Segments"] if x["Sealed"]]
g=s[len(s)//3]; print(g["Name"], g["FirstTime"], g["LastTime"])' <<<"$OUT")
printf '\xff\xff\xff\xff' | dd of="$TM_HOME/tables/Bad/log/$bname" bs=1 seek=150 conv=notrunc 2>/dev/null
mid=$(( ($(date -u -d "$bft" +%s) + $(date -u -d "$blt" +%s)) / 2 ))
for d in auto forward backward; do
  expect_exit 1 tidemark-restore --table Bad --target New --time "$mid" --direction "$d"
  assert_contains "$ERR" "$bname"
done
tables_are "AfterGap AfterSrc Bad Gap Other Src"

# ---- a bad table name is a usage error (2) in every program (import too: import_bad_input.sh)
expect_exit 2 tidemark-restore --table Src --target x --latest
assert_contains "$ERR" "table name 'x'"
# ---- the response's RestoreSummary as the aws CLI prints it (the restore's time, ISO)
expect_exit 0 tidemark-restore --table Src --target Restored --time 2025-10-15T00:00:00Z --json
assert_contains "$OUT" '"RestoreDateTime": "2025-10-15T00:00:00+00:00"'
assert_contains "$OUT" '"CreationDateTime": "'
# ---- a typo gets "did you mean"; --quiet prints nothing on stderr on success (issue 12)
expect_exit 2 tidemark-restore --tabel Src --target Typo --latest
assert_contains "$ERR" "did you mean '--table'?"
expect_exit 0 tidemark-restore --table Src --target QuietOne --latest --quiet
assert_eq "" "$ERR" "stderr of a --quiet restore"
echo "restore_errors: OK"
