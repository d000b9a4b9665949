#!/usr/bin/env bash
# rollback_model.sh: tidemark-rollback against the reference model (rollback_model.py) on random
# histories, several seeds: the table equals the model's state at the window's start for keys
# changed only in the window, keys changed after it are conflicts left alone, a re-run writes
# nothing, and the rollback can itself be exported and rolled back. SOAK=1: more seeds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
seeds="1 2 3"
[ "${SOAK:-0}" = 1 ] && seeds=$(seq 1 20)
for s in $seeds; do
  python3 "$TM_ROOT/tests/cli/rollback_model.py" "$s" 300 || fail "model seed $s"
done
echo "rollback_model: ok"
