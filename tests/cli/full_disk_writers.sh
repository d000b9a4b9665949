#!/usr/bin/env bash
# full_disk_writers.sh: the writers added after tidemark_full_disk.sh meet a full disk the same
# way: an exit of 1 (never a signal) or a FAILED job, a message that says "No space left on
# device" and names the file, nothing left half-written or looking complete, and once space is
# freed the next run works. Covered: hold files (a table's, a local export's), the
# applied-exports record of forward apply, the backup catalog (exports/, imports/), and the
# journal of tidemark serve's background jobs (serve-jobs/). A run whose end a full disk kept
# from its catalog record must read FAILED, not IN_PROGRESS for the life of the server. Runs on
# a 20 MB tmpfs filled with fallocate: needs root; prints SKIP and exits 0 where it cannot mount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
make_home
MNT=$TM_HOME/mnt
W=$TM_HOME/work   # off the tmpfs: exports that must stay readable
mkdir -p "$MNT" "$W"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=20m tmpfs "$MNT" 2>/dev/null; then
  echo "full_disk_writers: SKIP: cannot mount a tmpfs (needs root)"
  exit 0
fi
SRV=
stop_server() { [ -z "$SRV" ] || { kill -TERM "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null || true; SRV=; }; }
trap 'stop_server; umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; _tm_cleanup' EXIT
export TIDEMARK_HOME=$MNT/home
mkdir -p "$TIDEMARK_HOME"

fill() {   # fill [KB]: leaves KB kilobytes free (tmpfs counts 4 KB pages: 4 is room for one)
  rm -f "$MNT/filler"
  local avail
  avail=$(df -k --output=avail "$MNT" | tail -n 1)
  fallocate -l $(( (avail - ${1:-0}) * 1024 )) "$MNT/filler"
}
unfill() { rm -f "$MNT/filler"; }
nospace() {   # nospace WHAT FILE-FRAGMENT [TEXT]: TEXT (default $ERR) names the lack of space and the file
  local t=${3-$ERR}
  assert_contains "$t" "No space left on device" "$1 on a full disk"
  assert_contains "$t" "$2" "$1 on a full disk: the file"
}
no_temp() {   # no_temp DIR: nothing half-written left behind
  local left
  left=$(find "$1" -name '*.tmp.*' 2>/dev/null)
  [ -z "$left" ] || fail "temp files left in $1: $left"
}
now() { python3 -c 'import time; print("%.6f" % time.time())'; }

tidemark create-table --table Src --key k:S >/dev/null
tidemark pitr enable --table Src >/dev/null
for i in 1 2 3; do tidemark put-item --table Src --item "{\"k\":{\"S\":\"$i\"}}"; done
T0=$(now); sleep 0.1; T1=$(now); sleep 1.1
expect_exit 0 tidemark-export --table Src --to "$W/full" --time "$T0" -q
FULL=$OUT
expect_exit 0 tidemark-export --table Src --to "$W/inc" --incremental --from "$T0" --until "$T1" -q
E1=$OUT
expect_exit 0 tidemark-export --table Src --to "$MNT/exp" --incremental --from "$T0" --until "$T1" -q
ME1=$OUT   # an export on the disk that fills

# 1. A hold on a table (engine/hold.c): the reader fails; no hold is left to block retention.
fill
expect_exit 1 tidemark-restore --table Src --target Dst --latest
nospace "a restore's hold" "tables/Src/holds/"
no_temp "$TIDEMARK_HOME/tables/Src/holds"
[ -z "$(ls "$TIDEMARK_HOME/tables/Src/holds")" ] || fail "a hold was left: $(ls "$TIDEMARK_HOME/tables/Src/holds")"
[ ! -e "$TIDEMARK_HOME/tables/Dst" ] || fail "a failed restore left a table"
unfill
expect_exit 0 tidemark-restore --table Src --target Dst --latest -q
assert_eq 3 "$(count Dst)" "items restored once space was freed"
[ -z "$(ls "$TIDEMARK_HOME/tables/Src/holds")" ] || fail "the restore's hold stayed"

# 2. A hold on a local export: rollback reads it under a hold in <dest>/AWSDynamoDB/.holds/.
fill
expect_exit 1 tidemark-rollback --from "$ME1" --table Src
nospace "a rollback's hold on its export" "AWSDynamoDB/.holds/"
no_temp "$MNT/exp"
[ -z "$(find "$MNT/exp/AWSDynamoDB/.holds" -name '*.hold')" ] || fail "an export hold was left"
unfill
expect_exit 0 tidemark-rollback --from "$ME1" --table Src -q
[ -z "$(find "$MNT/exp/AWSDynamoDB/.holds" -name '*.hold')" ] || fail "the rollback's export hold stayed"

# 3. applied-exports (rollback/chain.c): an apply that cannot record itself fails, the record
# of the chain stays as it was; once space is freed the apply again is a no-op that records it.
expect_exit 0 tidemark-import --from "$FULL" --table Chain -q
CH=$TIDEMARK_HOME/tables/Chain/applied-exports
cp "$CH" "$W/chain.before"
fill
expect_exit 1 tidemark-import --apply-incremental "$E1" --table Chain
nospace "recording an applied export" "tables/Chain/applied-exports"
cmp -s "$CH" "$W/chain.before" || fail "a failed apply changed applied-exports: $(cat "$CH")"
no_temp "$TIDEMARK_HOME/tables/Chain"
unfill
expect_exit 0 tidemark-import --apply-incremental "$E1" --table Chain
assert_eq 3 "$(wc -l <"$CH")" "applied-exports: header, full, incremental"
assert_contains "$(tail -n 1 "$CH")" "INCREMENTAL "
assert_contains "$(tail -n 1 "$CH")" "${E1##*/}"
expect_exit 1 tidemark-import --apply-incremental "$E1" --table Chain
assert_contains "$ERR" "already applied"

# 4. The catalog from a program: the export's record cannot be written: exit 1, the record
# named, no temp file; the export after freeing space is recorded.
fill
expect_exit 1 tidemark-export --table Src --to "$W/cat1" -q
nospace "an export's catalog record" "home/exports/"
no_temp "$TIDEMARK_HOME/exports"
unfill
expect_exit 0 tidemark-export --table Src --to "$W/cat2" -q
id2=${OUT##*/}
[ -f "$TIDEMARK_HOME/exports/$id2.json" ] || fail "the export after freeing space has no record"

# 5. tidemark serve: the catalog and the restore journal.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve() {
  tidemark serve --no-auth --listen "127.0.0.1:$port" 2>>"$TM_HOME/serve.log" &
  SRV=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 && return; sleep 0.1; done
  fail "serve did not start: $(cat "$TM_HOME/serve.log")"
}
call() {   # call OPERATION JSON: the body in $OUT, the HTTP status in $CODE
  local r
  r=$(curl -s -XPOST -H "X-Amz-Target: DynamoDB_20120810.$1" -H 'Content-Type: application/x-amz-json-1.0' \
    "http://127.0.0.1:$port/" -d "$2" -w '\n%{http_code}')
  OUT=${r%$'\n'*}
  CODE=${r##*$'\n'}
}
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$OUT" "$1"; }
settled() {   # settled OPERATION JSON EXPR: polls until EXPR (of the body) is not IN_PROGRESS
  local s
  for _ in $(seq 100); do
    call "$1" "$2"
    s=$(field "$3")
    [ "$s" != IN_PROGRESS ] && { echo "$s"; return; }
    sleep 0.1
  done
  fail "$1 stayed IN_PROGRESS: $OUT"
}
ARN=arn:aws:dynamodb:us-east-1:000000000000:table/Src
export_req() { echo "{\"TableArn\":\"$ARN\",\"TidemarkDestination\":\"$1\"}"; }
import_req() { echo "{\"TidemarkSource\":\"$FULL\",\"S3BucketSource\":{\"S3Bucket\":\"b\"},\"InputFormat\":\"DYNAMODB_JSON\",\"TableCreationParameters\":{\"TableName\":\"$1\",\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":\"S\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}}"; }
restore_req() { echo "{\"SourceTableName\":\"Src\",\"TargetTableName\":\"$1\",\"UseLatestRestorableTime\":true}"; }
serve
call ListExports '{}'
before=$(field 'len(d["ExportSummaries"])')

# 5a. No room for the record or the journal: the request fails with the file named.
fill
call ExportTableToPointInTime "$(export_req "$W/srv0")"
assert_eq 500 "$CODE" "ExportTableToPointInTime on a full disk"; nospace ExportTableToPointInTime "home/exports/" "$OUT"
call ImportTable "$(import_req Imp0)"
assert_eq 500 "$CODE" "ImportTable on a full disk"; nospace ImportTable "home/imports/" "$OUT"
call RestoreTableToPointInTime "$(restore_req Res0)"
assert_eq 500 "$CODE" "RestoreTableToPointInTime on a full disk"; nospace RestoreTableToPointInTime "restore journal $TIDEMARK_HOME/serve-jobs/restore-Res0.json: " "$OUT"
no_temp "$TIDEMARK_HOME"
call ListExports '{}'
assert_eq "$before" "$(field 'len(d["ExportSummaries"])')" "exports listed after refused ones"

# 5b. Room for the record or journal only (one page): the job fails, and says so.
fill 4
call ExportTableToPointInTime "$(export_req "$MNT/srv1")"
assert_eq 200 "$CODE" "ExportTableToPointInTime with one page free"
earn=$(field 'd["ExportDescription"]["ExportArn"]')
st=$(settled DescribeExport "{\"ExportArn\":\"$earn\"}" 'd["ExportDescription"]["ExportStatus"]')
assert_eq FAILED "$st" "an export that met a full disk"
call DescribeExport "{\"ExportArn\":\"$earn\"}"   # settled ran in a subshell
nospace "the failed export's FailureMessage" "srv1" "$(field 'd["ExportDescription"]["FailureMessage"]')"
fill 4
call ImportTable "$(import_req Imp1)"
assert_eq 200 "$CODE" "ImportTable with one page free"
iarn=$(field 'd["ImportTableDescription"]["ImportArn"]')
st=$(settled DescribeImport "{\"ImportArn\":\"$iarn\"}" 'd["ImportTableDescription"]["ImportStatus"]')
assert_eq FAILED "$st" "an import that met a full disk"
fill 4
call RestoreTableToPointInTime "$(restore_req Res1)"
assert_eq 200 "$CODE" "RestoreTableToPointInTime with one page free"
for _ in $(seq 100); do [ -e "$TIDEMARK_HOME/serve-jobs/restore-Res1.json" ] || break; sleep 0.1; done
[ ! -e "$TIDEMARK_HOME/serve-jobs/restore-Res1.json" ] || fail "the failed restore's journal stayed"
log=$(cat "$TM_HOME/serve.log")
assert_contains "$log" "RestoreTableToPointInTime Res1: FAILED"
nospace "the failed restore's log line" "holds/" "$(grep 'Res1: FAILED' "$TM_HOME/serve.log")"
call DescribeTable '{"TableName":"Res1"}'
assert_contains "$OUT" "ResourceNotFoundException"
[ ! -e "$TIDEMARK_HOME/tables/Res1" ] || fail "a failed restore left its table"

# 5c. Space freed: what failed stays FAILED (the export's record lands on disk), new jobs work.
unfill
call DescribeExport "{\"ExportArn\":\"$earn\"}"
assert_eq FAILED "$(field 'd["ExportDescription"]["ExportStatus"]')" "the failed export after freeing space"
rec=$TIDEMARK_HOME/exports/${earn##*/}.json
assert_eq FAILED "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ExportDescription"]["ExportStatus"])' "$rec")" "the failed export's record on disk"
[ -z "$(find "$MNT/srv1" -name manifest-summary.json)" ] || fail "the failed export looks complete"
call ExportTableToPointInTime "$(export_req "$MNT/srv2")"
earn2=$(field 'd["ExportDescription"]["ExportArn"]')
assert_eq COMPLETED "$(settled DescribeExport "{\"ExportArn\":\"$earn2\"}" 'd["ExportDescription"]["ExportStatus"]')" "an export after freeing space"
call ImportTable "$(import_req Imp2)"
iarn2=$(field 'd["ImportTableDescription"]["ImportArn"]')
assert_eq COMPLETED "$(settled DescribeImport "{\"ImportArn\":\"$iarn2\"}" 'd["ImportTableDescription"]["ImportStatus"]')" "an import after freeing space"
call RestoreTableToPointInTime "$(restore_req Res2)"
for _ in $(seq 100); do [ -e "$TIDEMARK_HOME/tables/Res2" ] && [ ! -e "$TIDEMARK_HOME/serve-jobs/restore-Res2.json" ] && break; sleep 0.1; done
assert_eq 3 "$(count Res2)" "items of a restore after freeing space"
for f in "$TIDEMARK_HOME"/exports/*.json "$TIDEMARK_HOME"/imports/*.json; do
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" || fail "catalog record $f does not parse"
done

# 5d. A restart: nothing resumes that failed, nothing FAILED turns into anything else.
stop_server
serve
call ListExports '{}'
assert_eq FAILED "$(field '[s["ExportStatus"] for s in d["ExportSummaries"] if s["ExportArn"] == "'"$earn"'"][0]')" "the failed export after a restart"
call DescribeImport "{\"ImportArn\":\"$iarn\"}"
assert_eq FAILED "$(field 'd["ImportTableDescription"]["ImportStatus"]')" "the failed import after a restart"
call DescribeImport "{\"ImportArn\":\"$iarn2\"}"
assert_eq COMPLETED "$(field 'd["ImportTableDescription"]["ImportStatus"]')" "the import after a restart"
[ -z "$(ls "$TIDEMARK_HOME/serve-jobs")" ] || fail "journals left: $(ls "$TIDEMARK_HOME/serve-jobs")"
[ ! -e "$TIDEMARK_HOME/tables/Res1" ] || fail "the failed restore came back"
stop_server
echo "full_disk_writers: OK"
