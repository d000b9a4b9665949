#!/usr/bin/env bash
# readme_tour.sh: the README's tour runs as written. Every ```sh block of the section "A
# five-minute tour" is run, in order, in one bash with -euo pipefail, in a fresh temporary
# directory (so its `export PATH=$PWD/build/bin:$PATH` finds nothing and the programs under test
# come from TM_BIN), then what the tour claims is checked: the restore undid the bad load, so did
# the rollback in place (except the item written after the load, a conflict it reports), the
# copy has every item, the CSV became a table. A README edit that breaks a command fails here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
unset TIDEMARK_HOME
work=$TM_HOME/work
mkdir -p "$work"

# The tour's shell blocks: from its heading to the next "## " heading.
awk '/^## A five-minute tour/{in_tour=1; next}
     in_tour && /^## /{exit}
     in_tour && /^```sh$/{in_block=1; next}
     in_block && /^```$/{in_block=0; print ""; next}
     in_block{print}' "$TM_ROOT/README.md" > "$TM_HOME/tour.sh"
[ "$(grep -c '^tidemark' "$TM_HOME/tour.sh")" -ge 20 ] || fail "found too little of the tour: $(cat "$TM_HOME/tour.sh")"

# After the tour, in the same shell: what it claims.
cat >> "$TM_HOME/tour.sh" <<'CHECKS'
fail() { echo "FAIL: $*" >&2; exit 1; }
got=$(tidemark get-item --table Chat_fixed --key '{"user_id":{"S":"u2"},"sk":{"S":"t#2"}}')
case $got in *'"N": "2"'*|*'"N":"2"'*) ;; *) fail "Chat_fixed lost the value before the bad load: $got";; esac
# the rollback put the values before the bad load back, except the item written after it
got=$(tidemark get-item --table Chat --key '{"user_id":{"S":"u2"},"sk":{"S":"t#2"}}')
case $got in *'"N": "2"'*|*'"N":"2"'*) ;; *) fail "the rollback did not undo the bad load in Chat: $got";; esac
got=$(tidemark get-item --table Chat --key '{"user_id":{"S":"u3"},"sk":{"S":"t#3"}}')
case $got in *'"N": "99"'*|*'"N":"99"'*) ;; *) fail "the rollback overwrote the write made after the load: $got";; esac
grep -q '"t#3"' rollback.jsonl || fail "the rollback report does not name the conflict u3/t#3"
grep -q 'tokens' dry-run.txt || fail "the dry run shows no attribute change"
[ "$(tidemark scan --table Chat_copy | wc -l)" -eq 1000 ] || fail "Chat_copy does not hold 1000 items"
[ "$(tidemark scan --table Users | wc -l)" -eq 2 ] || fail "users.csv did not become 2 items"
[ "$(ls "$PWD/backups/chat/AWSDynamoDB" | grep -vc '^data$')" -eq 3 ] || fail "not 3 exports"
case $TIDEMARK_HOME in "$TMPDIR"/*) ;; *) fail "the tour's data is not under its temp dir: $TIDEMARK_HOME";; esac
echo "tour: ok"
CHECKS

cd "$work"
rc=0
TMPDIR=$work HOME=$work bash -euo pipefail "$TM_HOME/tour.sh" > "$TM_HOME/out" 2> "$TM_HOME/err" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- stdout (tail)"; tail -n 20 "$TM_HOME/out"
  echo "--- stderr (tail)"; tail -n 20 "$TM_HOME/err"
  fail "the README tour stopped with exit $rc"
fi
assert_contains "$(cat "$TM_HOME/out")" "tour: ok" "the tour's checks"
assert_contains "$(cat "$TM_HOME/out")" "ExportId: " "the ExportId captured"
echo "readme_tour: ok"
