#!/usr/bin/env bash
# serve_restart.sh: background jobs survive a killed server (issue 14: they resume or fail
# visibly, never vanish). A restore a server was running when it was killed (its journal in
# serve-jobs/ left behind) runs again at the next start and its table appears; the journal goes.
# Also: --no-auth says so at start, and a second restore onto a target being built is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; _tm_cleanup' EXIT
tidemark create-table --table Source --key id:S >/dev/null
tidemark pitr enable --table Source >/dev/null
for i in 1 2 3; do tidemark put-item --table Source --item "{\"id\":{\"S\":\"$i\"}}"; done
sleep 1.1
# What a server killed in the middle of a restore leaves: the journal of the run.
mkdir -p "$TM_HOME/serve-jobs"
latest=$(python3 -c 'import time; print(time.time() - 0.5)')
echo "{\"SourceTableName\":\"Source\",\"TargetTableName\":\"Again\",\"RestoreDateTime\":$latest}" \
  >"$TM_HOME/serve-jobs/restore-Again.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tidemark serve --no-auth --listen "127.0.0.1:$port" 2>"$TM_HOME/serve.log" &
SRV=$!
for _ in $(seq 100); do [ -d "$TM_HOME/tables/Again" ] && [ ! -e "$TM_HOME/serve-jobs/restore-Again.json" ] && break; sleep 0.1; done
[ -d "$TM_HOME/tables/Again" ] || fail "the interrupted restore did not run again: $(cat "$TM_HOME/serve.log")"
[ ! -e "$TM_HOME/serve-jobs/restore-Again.json" ] || fail "the journal stayed"
assert_eq 3 "$(count Again)" "items of the resumed restore"
log=$(cat "$TM_HOME/serve.log")
assert_contains "$log" "--no-auth: requests are NOT authenticated"
assert_contains "$log" "RestoreTableToPointInTime Again: interrupted by a stop, running it again"
assert_contains "$log" "COMPLETED"
# A restore onto a table that exists is refused before it starts.
out=$(curl -s -XPOST -H 'X-Amz-Target: DynamoDB_20120810.RestoreTableToPointInTime' \
  -H 'Content-Type: application/x-amz-json-1.0' "http://127.0.0.1:$port/" \
  -d '{"SourceTableName":"Source","TargetTableName":"Again","UseLatestRestorableTime":true}')
assert_contains "$out" "TableAlreadyExistsException"
kill -TERM "$SRV"; wait "$SRV" || fail "serve exited $? on SIGTERM"; SRV=
echo "serve_restart: OK"
