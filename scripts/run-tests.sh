#!/usr/bin/env bash
# Runs the test binaries and scripts and prints one closing line: "N passed, N failed".
#   run-tests.sh BUILD [unit|cli|fuzz|valgrind]     (default: all but valgrind)
# Unit tests: BUILD/tests/*_test (cmocka). Fuzz corpus replay: BUILD/fuzz/<t>_fuzz over
# tests/fuzz/corpus/<t>/. CLI scenarios: tests/cli/*.sh with TM_BIN=BUILD/bin.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; what=${2:-all}
export TM_BIN="$PWD/$build/bin" TM_ROOT="$PWD"
pass=0; fail=0; failed=()
run() {  # name, command...
  local name=$1; shift
  local log="$build/test-logs/$name.log"
  mkdir -p "$(dirname "$log")"
  local t0=$(date +%s.%N)
  if "$@" >"$log" 2>&1; then
    pass=$((pass+1)); printf 'PASS %-40s %6.1fs\n' "$name" "$(echo "$(date +%s.%N) - $t0" | bc)"
  else
    fail=$((fail+1)); failed+=("$name"); printf 'FAIL %-40s (log: %s)\n' "$name" "$log"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
}
if [ "$what" = all ] || [ "$what" = unit ]; then
  for t in "$build"/tests/*_test; do [ -x "$t" ] && run "unit/$(basename "$t")" "$t"; done
fi
if [ "$what" = all ] || [ "$what" = fuzz ]; then
  for f in "$build"/fuzz/*_fuzz; do
    [ -x "$f" ] || continue
    n=$(basename "$f" _fuzz)
    run "fuzz/$n" "$f" tests/fuzz/corpus/"$n"
  done
fi
if [ "$what" = valgrind ]; then
  export TIDEMARK_MAPSIZE=$((4 << 30))   # valgrind cannot reserve LMDB's default 1 TiB map
  for t in "$build"/tests/*_test; do
    [ -x "$t" ] && run "valgrind/$(basename "$t")" valgrind -q --error-exitcode=9 --leak-check=full \
      --errors-for-leak-kinds=definite "$t"
  done
fi
if [ "$what" = all ] || [ "$what" = cli ]; then
  for s in tests/cli/*.sh; do
    [ -f "$s" ] && [ "$(basename "$s")" != lib.sh ] && run "cli/$(basename "$s" .sh)" bash "$s"
  done
fi
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
