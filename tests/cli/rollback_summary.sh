#!/usr/bin/env bash
# rollback_summary.sh: --ignore-summary-checksum for tidemark-rollback and tidemark-import
# --apply-incremental (issue 13). An export whose manifest-summary.json was edited by hand (the
# account id anonymised, as in bug reports) no longer matches manifest-summary.md5: refused by
# default, naming manifest-summary.md5, nothing written (the log's last seq unchanged); accepted
# with the flag. A changed data file is still refused with the flag, before any write.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
now() { python3 -c 'import time; print("%.6f" % time.time())'; }
item() { echo "{\"pk\":{\"S\":\"$1\"},\"status\":{\"S\":\"$2\"}}"; }
state() { tidemark scan --table Orders | sort; }
lastseq() { tidemark log list --table Orders | tail -1; }

tidemark create-table --table Orders --key pk:S >/dev/null
tidemark pitr enable --table Orders >/dev/null
for i in 1 2 3; do item "u$i" ok; done | tidemark batch-write --table Orders --file - >/dev/null 2>&1
state >"$W/before"
sleep 0.05; t0=$(now); sleep 0.05
for i in 1 2 3; do item "u$i" bad; done | tidemark batch-write --table Orders --file - >/dev/null 2>&1
item n1 bad | tidemark batch-write --table Orders --file - >/dev/null 2>&1
sleep 0.05; t1=$(now)
expect_exit 0 tidemark-export --table Orders --to "$W/exp" --incremental --from "$t0" --until "$t1" -q
id=$(basename "$OUT")
state >"$W/bad"

# the summary anonymised by hand: same length, its .md5 left as it was
cp -r "$W/exp" "$W/anon"
A=$W/anon/AWSDynamoDB/$id
sed -i 's/000000000000/123456789012/g' "$A/manifest-summary.json"
grep -q 123456789012 "$A/manifest-summary.json" || fail "the summary was not edited"

# 1. refused by default, naming the file; nothing written
seq0=$(lastseq)
expect_exit 1 tidemark-rollback --from "$A" --table Orders -q
assert_contains "$ERR" "manifest-summary.md5" "rollback refusal"
case "$ERR" in *manifest-summary.json.md5*) fail "names a file that does not exist: $ERR" ;; esac
assert_eq "$seq0" "$(lastseq)" "log seq after the refused rollback"
assert_eq "$(cat "$W/bad")" "$(state)" "table after the refused rollback"

# 2. accepted with the flag (dry run first: still nothing written)
expect_exit 0 tidemark-rollback --from "$A" --table Orders --ignore-summary-checksum --dry-run -q
assert_eq "$seq0" "$(lastseq)" "log seq after the dry run"
expect_exit 0 tidemark-rollback --from "$A" --table Orders --ignore-summary-checksum -q
assert_eq "$(cat "$W/before")" "$(state)" "table after the rollback with --ignore-summary-checksum"

# 3. forward apply: the same rule
seq1=$(lastseq)
expect_exit 1 tidemark-import --apply-incremental "$A" --table Orders -q
assert_contains "$ERR" "manifest-summary.md5" "apply refusal"
assert_eq "$seq1" "$(lastseq)" "log seq after the refused apply"
expect_exit 0 tidemark-import --apply-incremental "$A" --table Orders --ignore-summary-checksum -q
assert_eq "$(cat "$W/bad")" "$(state)" "table after the apply with --ignore-summary-checksum"

# 4. a changed data file is still refused with the flag, before any write
cp -r "$W/anon" "$W/damaged"
f=$(ls "$W/damaged/AWSDynamoDB/data/"*.json.gz | head -1)
zcat "$f" | sed 's/"bad"/"BAD"/' | gzip -c >"$f.new" && mv "$f.new" "$f"
seq2=$(lastseq)
expect_exit 1 tidemark-rollback --from "$W/damaged/AWSDynamoDB/$id" --table Orders \
  --ignore-summary-checksum -q
assert_eq "$seq2" "$(lastseq)" "log seq after the damaged export"
assert_eq "$(cat "$W/bad")" "$(state)" "table after the damaged export"
expect_exit 1 tidemark-import --apply-incremental "$W/damaged/AWSDynamoDB/$id" --table Orders \
  --ignore-summary-checksum -q
assert_eq "$seq2" "$(lastseq)" "log seq after the damaged apply"
echo "rollback_summary: ok"
