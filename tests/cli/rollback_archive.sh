#!/usr/bin/env bash
# rollback_archive.sh (issue 15): an incremental export bundled by tidemark-lifecycle apply
# (Transitions Days 0 to GLACIER: AWSDynamoDB/<id>.tar.zst, its folder gone) is rolled back by
# tidemark-rollback and replayed by tidemark-import --apply-incremental, given the bundle or
# the folder it replaced, with the same result as an unbundled copy of the same export; the
# temporary directory the bundle is unpacked to is gone afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
state() { tidemark scan --table "$1" | sort; }
W=$(mktemp -d); _tm_homes+=("$W")
D=$W/dest
item() { echo "{\"pk\":{\"S\":\"$1\"},\"v\":{\"N\":\"$2\"}}"; }
at 2025-01-01T00:00:00Z tidemark create-table --table Src --key pk:S >/dev/null
at 2025-01-01T00:00:00Z tidemark pitr enable --table Src >/dev/null
for i in 1 2 3 4 5; do item "k$i" 1; done | at 2025-01-01T01:00:00Z tidemark batch-write --table Src --file - >/dev/null 2>&1
expect_exit 0 at 2025-01-01T02:00:00Z tidemark-export --table Src --to "$W/full" -q
FULL=$OUT
state Src >"$W/before"
for i in 1 2 3; do item "k$i" 2; done | at 2025-01-01T03:00:00Z tidemark batch-write --table Src --file - >/dev/null 2>&1
item n1 7 | at 2025-01-01T03:00:00Z tidemark batch-write --table Src --file - >/dev/null 2>&1
at 2025-01-01T03:00:00Z tidemark delete-item --table Src --key '{"pk":{"S":"k5"}}' >/dev/null
state Src >"$W/after"
expect_exit 0 at 2025-01-01T04:00:00Z tidemark-export --table Src --to "$D" --incremental \
  --from 2025-01-01T02:00:00Z --until 2025-01-01T04:00:00Z -q
E=$OUT
id=$(basename "$E")
cp -r "$D" "$W/plain"                       # the same export, never bundled
P=$W/plain/AWSDynamoDB/$id

R=$W/rules.json
echo '{"Rules":[{"ID":"arch","Status":"Enabled","Filter":{"Prefix":""},"Transitions":[{"Days":0,"StorageClass":"GLACIER"}]}]}' > "$R"
expect_exit 0 at 2025-01-01T05:00:00Z tidemark-lifecycle apply --rules "$R" --target "$D"
[ -f "$D/AWSDynamoDB/$id.tar.zst" ] || fail "no bundle"
[ -e "$E" ] && fail "the folder stayed beside its bundle"

# replay: the full export imported, then the incremental applied, bundled and unbundled alike
for t in Bun Fol Pla; do expect_exit 0 at 2025-01-01T06:00:00Z tidemark-import --from "$FULL" --table $t -q; done
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-import --apply-incremental "$D/AWSDynamoDB/$id.tar.zst" --table Bun -q
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-import --apply-incremental "$E" --table Fol -q
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-import --apply-incremental "$P" --table Pla -q
assert_eq "$(cat "$W/after")" "$(state Pla)" "replay of the unbundled export"
assert_eq "$(state Pla)" "$(state Bun)" "replay of the bundle"
assert_eq "$(state Pla)" "$(state Fol)" "replay through the folder the bundle replaced"

# rollback: the table back to the export's start, from the bundle as from the plain copy
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-rollback --from "$D/AWSDynamoDB/$id.tar.zst" --table Bun -q
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-rollback --from "$P" --table Pla -q
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-rollback --from "$E" --table Src -q
assert_eq "$(cat "$W/before")" "$(state Pla)" "rollback of the unbundled export"
assert_eq "$(state Pla)" "$(state Bun)" "rollback of the bundle"
assert_eq "$(state Pla)" "$(state Src)" "rollback through the folder the bundle replaced"

# nothing unpacked is left behind, and the bundle is intact
assert_eq "AWSDynamoDB" "$(ls -A "$D")" "what the destination holds"
ls -A "${TMPDIR:-/tmp}" | grep -q "^tidemark-unbundle-" && fail "a temporary directory left in TMPDIR"
expect_exit 0 at 2025-01-01T06:00:00Z tidemark-lifecycle verify "$D"
echo "rollback_archive: ok"
