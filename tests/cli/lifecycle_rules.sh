#!/usr/bin/env bash
# lifecycle_rules.sh (issue 15): S3 lifecycle rules on a local export directory: a dry run
# changes nothing, a GLACIER transition bundles the export into one .tar.zst that verify and
# tidemark-import read as it is, a disabled rule does nothing, expiration removes it; damage
# in an export's data file is found, and an incremental verify reads only that export.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
D=$(mktemp -d); _tm_homes+=("$D")
at 2025-01-01T00:00:00Z tidemark create-table --table Exp --key k:N >/dev/null
at 2025-01-01T00:00:00Z tidemark pitr enable --table Exp >/dev/null
echo '{"k":{"N":"1"}}' | at 2025-01-01T01:00:00Z tidemark batch-write --table Exp --file - >/dev/null 2>&1
at 2025-01-01T02:00:00Z tidemark-export --table Exp --to "$D" -q >/dev/null 2>&1
id=$(ls "$D/AWSDynamoDB" | grep -v '^data$' | head -1)
R=$D.rules.json; _tm_homes+=("$R")
echo '{"Rules":[{"ID":"off","Status":"Disabled","Prefix":"","Expiration":{"Days":1}}]}' > "$R"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$D"
assert_contains "$OUT" "keep"
[ -e "$D/AWSDynamoDB/$id/manifest-summary.json" ] || fail "a disabled rule acted"
echo '{"Rules":[{"ID":"arch","Status":"Enabled","Filter":{"Prefix":""},"Transitions":[{"Days":30,"StorageClass":"GLACIER"}],"Expiration":{"Days":90}}]}' > "$R"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$D" --dry-run
assert_contains "$OUT" "would: 44 days old, transition at 30 days to GLACIER"
[ -e "$D/AWSDynamoDB/$id/manifest-summary.json" ] || fail "dry run changed the export"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$D"
[ -e "$D/AWSDynamoDB/$id.tar.zst" ] || fail "no bundle"
[ -e "$D/AWSDynamoDB/$id" ] && fail "the folder stayed beside its bundle"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-lifecycle verify "$D"
expect_exit 0 at 2025-02-15T00:00:00Z tidemark-import --from "$D/AWSDynamoDB/$id.tar.zst" --table Imp -q
assert_eq '{"Item":{"k":{"N":"1"}}}' "$(tidemark scan --table Imp)"
expect_exit 0 at 2025-05-15T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$D"
assert_contains "$OUT" "Expiration.Days 90"
[ -e "$D/AWSDynamoDB/$id.tar.zst" ] && fail "expired bundle kept"
# ---- export damage: verify finds it; an incremental verify reads only the export that changed
at 2025-05-15T01:00:00Z tidemark-export --table Exp --to "$D" -q >/dev/null 2>&1
at 2025-05-15T02:00:00Z tidemark-export --table Exp --to "$D" -q >/dev/null 2>&1
expect_exit 0 tidemark-lifecycle verify "$D"
expect_exit 0 tidemark-lifecycle verify "$D" --json
assert_contains "$OUT" '"BytesRead":	0'
f=$(ls "$D"/AWSDynamoDB/*/data/*.json.gz | head -1)
bad=$(basename "$(dirname "$(dirname "$f")")")
printf 'XX' | dd of="$f" bs=1 seek=5 conv=notrunc 2>/dev/null   # same size, same second
expect_exit 1 tidemark-lifecycle verify "$D"
assert_contains "$OUT" "problem: export/$D/$bad: md5Checksum"
assert_contains "$OUT" "2 exports (1 unchanged)"
echo "lifecycle_rules: ok"
