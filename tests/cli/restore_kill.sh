#!/usr/bin/env bash
# restore_kill.sh: a restore killed at any moment (SIGKILL) leaves nothing that looks like a
# table: the target is either absent or complete and right; a later restore to the same name
# works. The kills land at increasing delays so that they hit the seed copy, the log replay and
# the publish.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work; mkdir -p "$W"
python3 "$TM_ROOT/bench/gen_items.py" 40000 7 > "$W/items.jsonl"
TIDEMARK_CLOCK=2025-11-01T00:00:00Z tidemark create-table --table Big --key user_id:S --sort-key sk:S >/dev/null
TIDEMARK_CLOCK=2025-11-01T00:00:00Z tidemark pitr enable --table Big >/dev/null
TIDEMARK_CLOCK=2025-11-01T01:00:00Z tidemark batch-write --table Big --file "$W/items.jsonl" 2>/dev/null
TIDEMARK_CLOCK=2025-11-01T02:00:00Z tidemark put-item --table Big --item '{"user_id":{"S":"late"},"sk":{"S":"x"}}'
export TIDEMARK_CLOCK=2025-11-01T03:00:00Z
T=2025-11-01T01:30:00Z
expect_exit 0 tidemark-restore --table Big --target Reference --time "$T" --direction forward
tidemark scan --table Reference | sort > "$W/want"
[ "$(wc -l < "$W/want")" -eq 40000 ] || fail "reference restore has $(wc -l < "$W/want") items"

killed=0 finished=0
for d in 0.005 0.01 0.02 0.03 0.05 0.08 0.12 0.17 0.25 0.35 0.5 0.7 1 1.5 2 3 5 8; do
  rc=0
  tidemark-restore --table Big --target Victim --time "$T" --direction forward 2>/dev/null &
  pid=$!
  sleep "$d"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  names=$(tidemark list-tables)
  if [ "$rc" -eq 137 ]; then
    killed=$((killed + 1))
    case $names in
      *Victim*)   # killed after the publish: it must be whole
        tidemark scan --table Victim | sort > "$W/got"
        cmp -s "$W/want" "$W/got" || fail "a restore killed after $d s left a partial table"
        tidemark delete-table --table Victim >/dev/null ;;
    esac
  else
    [ "$rc" -eq 0 ] || fail "restore exited $rc"
    finished=$((finished + 1))
    tidemark scan --table Victim | sort > "$W/got"
    cmp -s "$W/want" "$W/got" || fail "restore differs"
    tidemark delete-table --table Victim >/dev/null
    [ "$finished" -ge 2 ] && break
  fi
  # whatever a killed restore left is hidden: never listed, never in the way of the next one
  for e in "$TM_HOME"/tables/*; do
    case $(basename "$e") in Big|Reference) ;; *) fail "left behind: $e" ;; esac
  done
done
[ "$killed" -gt 0 ] || fail "no restore was killed (machine too fast for the delays?)"
expect_exit 0 tidemark-restore --table Big --target Victim --time "$T" --direction backward
tidemark scan --table Victim | sort > "$W/got"
cmp -s "$W/want" "$W/got" || fail "restore after the kills differs"
echo "restore_kill: OK ($killed killed, $finished finished)"
