#!/usr/bin/env bash
# make bench / make bench-quick: runs every bench/<area>.sh in order. Each measures tidemark
# against its references in the same run and appends JSON lines (bench/lib.sh row, note) to
# $BENCH_OUT/results.jsonl; bench/summary.py then writes results.md (every row), summary.md,
# summary.json and summary.svg to $BENCH_OUT and prints the one summary table.
#   BENCH_ITEMS (default 1000000) sets the table size; BENCH_ONLY=name runs one script;
#   BENCH_QUICK=1 (make bench-quick) runs everything at 100,000 items and smaller logs;
#   BENCH_BUILD (default $BUILD from make, else build) says whose binaries to measure;
#   BENCH_COMMIT names the commit when the tree is not a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_BUILD="${BENCH_BUILD:-${BUILD:-build}}"
export PATH="$PWD/$BENCH_BUILD/bin:$PATH"
export BENCH_OUT="${BENCH_OUT:-$PWD/bench/out}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  export BENCH_ITEMS="${BENCH_ITEMS:-100000}" BENCH_LOG_CHANGES="${BENCH_LOG_CHANGES:-1000000}"
  export BENCH_RUNS="${BENCH_RUNS:-3}"
fi
export BENCH_ITEMS="${BENCH_ITEMS:-1000000}"
mkdir -p "$BENCH_OUT"
rm -f "$BENCH_OUT/results.jsonl"
# The commit measured: BENCH_COMMIT when the tree is a copy (git archive), else HEAD, marked
# "+changes" when the working tree differs from it.
commit=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
[ -n "${BENCH_COMMIT:-}" ] || git diff --quiet HEAD -- . 2>/dev/null || commit="$commit+changes"
python3 bench/summary.py add "$BENCH_OUT/results.jsonl" run "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "commit=$commit" "items=$BENCH_ITEMS" "cores=$(nproc)" "quick=${BENCH_QUICK:-0}" "build=$BENCH_BUILD" \
  "only=${BENCH_ONLY:-}"
# A script that fails (a load that lost rows, a restore with wrong data) does not stop the others;
# the summary names it and the run exits 1.
t0=$(date +%s) failed=0
for s in bench/[0-9]*.sh; do
  name=$(basename "$s" .sh)
  [ -n "${BENCH_ONLY:-}" ] && [[ "$name" != *"$BENCH_ONLY"* ]] && continue
  echo "== $name ($(( $(date +%s) - t0 )) s into the run)" >&2
  rc=0; bash "$s" || rc=$?
  if [ "$rc" -ne 0 ]; then
    failed=1
    python3 bench/summary.py add "$BENCH_OUT/results.jsonl" failed "script=$name" "status=$rc"
  fi
done
echo "== all done in $(( $(date +%s) - t0 )) s" >&2
python3 bench/summary.py render "$BENCH_OUT/results.jsonl" "$BENCH_OUT"
exit "$failed"
