#!/usr/bin/env bash
# serve_crash.sh: `tidemark serve` killed with SIGKILL under concurrent writes loses nothing it
# acknowledged. Its writer thread acknowledges a PutItem, a BatchWriteItem or a DeleteItem
# once the log holds it durably and joins LMDB commits of up to 10 ms, so a kill finds
# acknowledged writes only in the log: the next open (a restarted server, or `tidemark scan`)
# replays them. Eight HTTP clients write (puts, two-item batches, deletes of their own earlier
# puts) and record each write as soon as its 200 arrives; three rounds (SOAK=1: twenty), each
# killed at a different moment; after each, every acknowledged write is there and no
# acknowledged delete came back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
W=$TM_HOME/work
mkdir -p "$W"
tidemark create-table --table Crash --key pk:S >/dev/null

# load URL ROUND OUT: 8 threads write until the server dies; OUT gets one line per
# acknowledged write: "P key" (present) or "D key" (deleted), and "T key" before a delete is
# sent (its answer may be cut by the kill)
load() {
  python3 - "$@" <<'PY'
import http.client, json, sys, threading
url, rnd, out = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = url.split("//")[1].rstrip("/").split(":")
f = open(out, "a", buffering=1)
lock = threading.Lock()
def call(c, op, body):
    c.request("POST", "/", json.dumps(body), {"X-Amz-Target": "DynamoDB_20120810." + op,
              "Content-Type": "application/x-amz-json-1.0"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError("%s: %d %s" % (op, r.status, data[:200]))
def worker(t):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    i = 0
    try:
        while True:
            k = "r%s-t%d-%d" % (rnd, t, i)
            if i % 3 == 2:
                call(c, "BatchWriteItem", {"RequestItems": {"Crash": [
                    {"PutRequest": {"Item": {"pk": {"S": k + "a"}, "v": {"N": str(i)}}}},
                    {"PutRequest": {"Item": {"pk": {"S": k + "b"}, "v": {"N": str(i)}}}}]}})
                acked = ["P " + k + "a", "P " + k + "b"]
            elif i % 5 == 4:
                gone = "r%s-t%d-%d" % (rnd, t, i - 4)
                with lock:   # sent but not acknowledged when the kill comes: either outcome
                    f.write("T " + gone + "\n")
                call(c, "DeleteItem", {"TableName": "Crash", "Key": {"pk": {"S": gone}}})
                acked = ["D " + gone]
            else:
                call(c, "PutItem", {"TableName": "Crash", "Item": {"pk": {"S": k}, "v": {"N": str(i)}}})
                acked = ["P " + k]
            with lock:
                for a in acked: f.write(a + "\n")
            i += 1
    except Exception:
        pass   # the server was killed
th = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
for x in th: x.start()
for x in th: x.join()
PY
}

# check OUT: every "P" key present, every "D" key absent (a later put of it never happens); a
# "T" key (a delete sent, its answer cut by the kill) may be either
check() {
  tidemark scan --table Crash >"$W/scan.jsonl"
  python3 - "$1" "$W/scan.jsonl" <<'PY'
import json, sys
have = {json.loads(l)["Item"]["pk"]["S"] for l in open(sys.argv[2])}
want, gone, maybe = set(), set(), set()
for l in open(sys.argv[1]):
    op, k = l.split()
    {"P": want, "D": gone, "T": maybe}[op].add(k)
want -= gone | maybe
lost = sorted(want - have)
back = sorted(gone & have)
if lost: sys.exit("FAIL: %d acknowledged writes lost after SIGKILL, e.g. %s" % (len(lost), lost[:5]))
if back: sys.exit("FAIL: %d acknowledged deletes undone after SIGKILL, e.g. %s" % (len(back), back[:5]))
print("%d acknowledged items present, %d acknowledged deletes kept" % (len(want), len(gone)))
PY
}

rounds=3
[ "${SOAK:-0}" = 1 ] && rounds=20   # make soak
for round in $(seq "$rounds"); do
  start_serve "$W/serve-$round.log" --no-auth
  load "$SRV_URL" "$round" "$W/acked" &
  lp=$!
  sleep "0.$((3 + (2 * round) % 7))"
  kill -KILL "$SRV_PID"
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
  wait "$lp"
  n=$(grep -c "^P r$round-" "$W/acked" || true)
  [ "$n" -gt 10 ] || fail "round $round: only $n writes acknowledged before the kill"
  check "$W/acked"
done
# a restarted server reads the same (Scan pages of Select COUNT, summed)
start_serve "$W/serve-last.log" --no-auth
got=$(python3 - "$SRV_PORT" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
n, start = 0, None
while True:
    body = {"TableName": "Crash", "Select": "COUNT"}
    if start: body["ExclusiveStartKey"] = start
    c.request("POST", "/", json.dumps(body), {"X-Amz-Target": "DynamoDB_20120810.Scan",
              "Content-Type": "application/x-amz-json-1.0"})
    r = json.loads(c.getresponse().read())
    n += r["Count"]
    start = r.get("LastEvaluatedKey")
    if not start: break
print(n)
PY
)
assert_eq "$(tidemark scan --table Crash | wc -l)" "$got" "items counted by the restarted server"
stop_serve
echo "serve_crash: OK"
