#!/usr/bin/env bash
# lifecycle_race.sh (issue 15): tidemark-lifecycle racing a long restore, an export at a time
# and a rollback. Each reader is stopped (SIGSTOP) right after it took its hold, so that it is
# "long" for certain: run (at a clock where the window has moved past what they read) deletes
# nothing they hold, apply does not expire the export the rollback reads; continued, all three
# succeed with the right content; once they are done, the next run and apply delete it all.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
export TIDEMARK_SEGMENT_BYTES=8192
W=$(mktemp -d); _tm_homes+=("$W")
at() { local t=$1; shift; TIDEMARK_CLOCK=$t "$@"; }
day() { printf '2025-01-%02dT%s' "$1" "${2:-12:00:00Z}"; }
load() {   # table day value [n]: keys 1..n (default 1000) get value
  python3 -c 'import sys
for i in range(1, int(sys.argv[2]) + 1): print("{\"k\":{\"N\":\"%d\"},\"v\":{\"S\":\"%s\"},\"p\":{\"S\":\"%s\"}}" % (i, sys.argv[1], "x" * 40))' "$3" "${4:-1000}" |
    at "$(day $2 "${5:-12:00:00Z}")" tidemark batch-write --table "$1" --file - >/dev/null 2>&1
}
values() { tidemark scan --table "$1" | python3 -c 'import sys,json,collections
c=collections.Counter(json.loads(l)["Item"]["v"]["S"] for l in sys.stdin if l.strip()); print(" ".join("%s:%d" % kv for kv in sorted(c.items())))'; }
# stopped CMD...: starts CMD (its stdout and stderr to $SOUT) in the background with a watcher already looking for its hold
# file under $HROOT; the watcher stops it (SIGSTOP) as soon as the hold appears, while it does
# not hold the holds lock (a stopped lock holder would block the run). Sets $sp to its pid. The
# readers run with TIDEMARK_TEST_HOLD_PAUSE_MS so that a fast one is still caught holding.
stopped() {
  rm -f "$W/ready" "$W/stopped"
  python3 - "$HROOT" "$W" <<'PY' &
import fcntl, os, signal, sys, time
root, w = sys.argv[1], sys.argv[2]
def holds():   # os.walk, not glob: glob's ** skips the .holds folder of exports
    return [os.path.join(d, f) for d, _, fs in os.walk(root) if d.endswith("/holds")
            for f in fs if f.endswith(".hold")]
seen = set(holds())
open(w + "/ready", "w").close()
end = time.time() + 60
while time.time() < end:
    for f in holds():
        if f in seen:
            continue
        pid = int(os.path.basename(f).split("-")[0])
        lock = os.path.join(os.path.dirname(f), ".lock")
        for _ in range(10000):
            os.kill(pid, signal.SIGSTOP)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                break
            except BlockingIOError:
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.0001)
            finally:
                os.close(fd)
        with open(w + "/stopped", "w") as o:
            o.write("%d %s\n" % (pid, f))
        sys.exit(0)
    time.sleep(0.0001)
sys.exit("no new hold under " + root)
PY
  local wp=$!
  while [ ! -e "$W/ready" ]; do sleep 0.01; done
  "$@" >"$SOUT" 2>&1 &
  sp=$!
  pids+=("$sp")
  wait "$wp" || fail "no hold seen: $*"
  read -r got hf < "$W/stopped"
  [ "$got" = "$sp" ] || fail "the hold seen ($hf) is not of $* ($sp)"
  [ -e "$hf" ] || fail "$* ended before it was stopped (raise the data size)"
}
pids=()
cleanup_stopped() {   # a failed run: end the readers it stopped before their home goes
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
  wait 2>/dev/null || true
}
trap 'cleanup_stopped; _tm_cleanup' EXIT

at "$(day 1 00:00:00Z)" tidemark create-table --table Race --key k:N >/dev/null
at "$(day 1 00:00:00Z)" tidemark pitr enable --table Race --recovery-period-in-days 2 >/dev/null
for d in $(seq 1 10); do load Race $d "day$d"; done
# a bad load on day 10 at 13:00 (1000 updates, 19000 inserts: an export that takes a while to
# read), exported (NEW_AND_OLD_IMAGES) for the rollback
load Race 10 bad 20000 13:00:00Z
expect_exit 0 at "$(day 10 23:00:00Z)" tidemark-export --table Race --to "$W/inc" --incremental \
  --from "$(day 10 12:30:00Z)" --until "$(day 10 13:30:00Z)" -q
E=$OUT
id=$(basename "$E")
expect_exit 0 at "$(day 10 23:00:00Z)" tidemark-restore --table Race --target Copy --latest -q
assert_eq "bad:20000" "$(values Copy)"

# ---- three readers, each stopped right after taking its hold
H=$TM_HOME/tables/Race
HROOT=$H
SOUT=$W/restore.out
stopped env TIDEMARK_TEST_HOLD_PAUSE_MS=2000 TIDEMARK_CLOCK="$(day 10 23:00:00Z)" tidemark-restore --table Race --target Back --time "$(day 9 12:30:00Z)" -q
rp=$sp
SOUT=$W/full.out
stopped env TIDEMARK_TEST_HOLD_PAUSE_MS=2000 TIDEMARK_CLOCK="$(day 10 23:00:00Z)" tidemark-export --table Race --to "$W/full" --time "$(day 9 18:00:00Z)" -q
ep=$sp
HROOT=$W/inc
SOUT=$W/rb.out
stopped env TIDEMARK_TEST_HOLD_PAUSE_MS=2000 TIDEMARK_CLOCK="$(day 10 23:00:00Z)" tidemark-rollback --from "$E" --table Copy -q
bp=$sp
held=$(ls "$H/holds" | grep -c '\.hold$')
[ "$held" -ge 2 ] || fail "the restore and the export hold nothing ($held holds)"
before=$(ls "$H/log" "$H/snapshots" | sort)

# run at day 14: the window [day 12, day 14] no longer needs day 9, but the readers hold it
expect_exit 0 at "$(day 14 00:00:00Z)" tidemark-lifecycle run --table Race --json
assert_contains "$OUT" '"KeptForHolds"'
[ -e "$H/log/$(echo "$before" | grep -m1 -E '\.(lz4|zst)$')" ] || fail "the oldest segment, held, was deleted"
R=$W/rules.json
echo '{"Rules":[{"ID":"exp","Status":"Enabled","Prefix":"","Expiration":{"Days":1}}]}' > "$R"
expect_exit 0 at 2025-03-01T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$W/inc" --json
assert_contains "$OUT" '"HeldBy"'
assert_contains "$OUT" 'held by a running rollback'
[ -e "$E/manifest-summary.json" ] || fail "the export a rollback reads was expired"

# ---- continued: all three succeed with the right content
for p in "$rp" "$ep" "$bp"; do kill -CONT "$p"; done
wait "$rp" || fail "the restore failed: $(cat "$W/restore.out")"
wait "$ep" || fail "the export failed: $(cat "$W/full.out")"
wait "$bp" || fail "the rollback failed: $(cat "$W/rb.out")"
pids=()
assert_eq "day9:1000" "$(values Back)" "restore at day 9 12:30"
expect_exit 0 at "$(day 10 23:00:00Z)" tidemark-import --from "$(cat "$W/full.out")" --table FromExp -q
assert_eq "day9:1000" "$(values FromExp)" "export at day 9 18:00"
assert_eq "day10:1000" "$(values Copy)" "the rollback of the bad load"
[ -z "$(ls "$H/holds" | grep '\.hold$' || true)" ] || fail "holds left after the readers ended"

# ---- nothing held now: the next run and apply do their work
expect_exit 0 at "$(day 14 00:00:00Z)" tidemark-lifecycle run --table Race --json
case "$OUT" in *'"KeptForHolds"'*) fail "still kept for holds: $OUT" ;; esac
[ -e "$H/log/$(echo "$before" | grep -m1 -E '\.(lz4|zst)$')" ] && fail "the oldest segment stayed"
expect_exit 0 at 2025-03-01T00:00:00Z tidemark-lifecycle apply --rules "$R" --target "$W/inc"
[ -e "$E" ] && fail "the export stayed after its rollback ended"
[ -e "$W/inc/AWSDynamoDB/.holds/$id" ] && fail "the export's hold folder stayed"
wait
echo "lifecycle_race: ok"
