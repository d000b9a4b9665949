#!/usr/bin/env bash
# make bench: runs every bench/<area>.sh in order. Each measures tidemark against its reference
# in the same run and appends "| what | tidemark | reference | ratio | note |" rows to
# $BENCH_OUT/results.md, which is printed at the end.
#   BENCH_ITEMS (default 1000000) sets the table size; BENCH_ONLY=name runs one script.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/build/bin:$PATH"
export BENCH_OUT="${BENCH_OUT:-$PWD/bench/out}"
export BENCH_ITEMS="${BENCH_ITEMS:-1000000}"
mkdir -p "$BENCH_OUT"
{
  echo "# tidemark benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, BENCH_ITEMS=$BENCH_ITEMS"
  echo
  echo "| what | tidemark | reference | ratio | note |"
  echo "|---|---|---|---|---|"
} > "$BENCH_OUT/results.md"
for s in bench/[0-9]*.sh; do
  name=$(basename "$s" .sh)
  [ -n "${BENCH_ONLY:-}" ] && [[ "$name" != *"$BENCH_ONLY"* ]] && continue
  echo "== $name" >&2
  bash "$s"
done
cat "$BENCH_OUT/results.md"
