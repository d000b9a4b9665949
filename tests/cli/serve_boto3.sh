#!/usr/bin/env bash
# serve_boto3.sh: Debian's boto3 (/usr/bin/python3) against `tidemark serve` (SigV4 checked):
# the workload of serve_workload.py (conditional writes, begins_with queries, pagination with a
# Limit that ends exactly at the last item, a 4-segment parallel scan, batch writes with retries,
# every UpdateExpression action with each ReturnValues, BatchGetItem, projections, COUNT, pages
# that end after 1 MB read), then
# the same workload against dynalite (npm) in the same run, compared step by step: tidemark
# agrees with dynalite wherever dynalite follows DynamoDB. Steps where dynalite does not are
# listed below with why; steps where tidemark's api is known to differ from DynamoDB are
# listed as GAP and printed, so that the list can only shrink.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import boto3' 2>/dev/null || { echo "SKIP: no python3-boto3"; exit 0; }
make_home
work=$TM_HOME/work
mkdir -p "$work"

aws_env AKIDSERVE serve-secret
start_serve "$work/serve.log"
"$PY" "$TM_ROOT/tests/cli/serve_workload.py" "$SRV_URL" >"$work/tm.jsonl" ||
  fail "workload against tidemark: $(tail -3 "$work/tm.jsonl")"

# tidemark's answers on their own (they hold whatever dynalite says)
get() { "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["step"] == sys.argv[2]: print(json.dumps(d["value"], sort_keys=True))' "$work/tm.jsonl" "$1"; }
assert_eq '["ok", "ConditionalCheckFailedException"]' "$(get put_if_absent)" "put_if_absent"
assert_eq '["ok", "ConditionalCheckFailedException"]' "$(get update_if)" "update_if"
assert_eq 91 "$(get scan_count)" "items after the batch writes"
assert_eq '{"distinct": 91, "total": 91}' "$(get parallel_scan)" "parallel scan: every item once"
assert_eq 30 "$(get query_pages_exact | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" "pages of p2"
assert_eq null "$(get missing_item)" "GetItem of no item"
assert_eq '{"count": 300, "first_page_under_120": true, "items": 300, "pages_at_least_3": true}' \
  "$(get query_1mb_pages)" "a Query page ends after 1 MB read"

# dynalite, same workload, compared step by step
if ! has_dynalite; then echo "SKIP: dynalite comparison (no $DYNALITE_JS; run make deps)"; echo "serve_boto3: OK"; exit 0; fi
start_dynalite "$work/dynalite.log" --createTableMs 20 --deleteTableMs 20
"$PY" "$TM_ROOT/tests/cli/serve_workload.py" "$DYN_URL" >"$work/dyn.jsonl" ||
  fail "workload against dynalite: $(tail -3 "$work/dyn.jsonl")"
"$PY" - "$work/tm.jsonl" "$work/dyn.jsonl" <<'EOF' || fail "tidemark and dynalite differ"
import json, sys
tm = {d["step"]: d["value"] for d in map(json.loads, open(sys.argv[1]))}
dy = {d["step"]: d["value"] for d in map(json.loads, open(sys.argv[2]))}
# Where dynalite does not follow DynamoDB (tidemark is checked against DynamoDB's documented
# answer in the assertions above instead).
DYNALITE_DIFFERS = {}
# Where tidemark's api layer is known to differ from DynamoDB: printed, to be fixed in api/.
GAPS = {}
bad = 0
for step in dy:
    if step not in tm:
        print("missing step in tidemark's run:", step); bad = 1; continue
    same = tm[step] == dy[step]
    if step in DYNALITE_DIFFERS or (not same and step in GAPS):
        print("%s %s: %s" % ("GAP" if step in GAPS else "dynalite differs", step,
                            GAPS.get(step) or DYNALITE_DIFFERS[step]))
        continue
    if not same:
        print("DIFF", step, "\n  tidemark:", json.dumps(tm[step])[:600], "\n  dynalite:", json.dumps(dy[step])[:600])
        bad = 1
    else:
        print("same", step)
sys.exit(bad)
EOF
echo "serve_boto3: OK"
