#!/usr/bin/env bash
# serve_errors.sh: every error shape of issue 14 as `tidemark serve` sends it: HTTP status,
# {"__type","message"} with DynamoDB's __type, x-amz-crc32 matching the body, and what boto3
# raises for it. Requests are raw and SigV4-signed (botocore's SigV4Auth) so that bodies an SDK
# would refuse to send can be sent: ConditionalCheckFailedException, ResourceNotFoundException,
# ResourceInUseException, ValidationException, SerializationException (an N as a JSON number, a
# body that is not JSON), PointInTimeRecoveryUnavailableException, InvalidRestoreTimeException,
# TableAlreadyExistsException, InvalidExportTimeException, ExportConflictException and
# ImportConflictException (a ClientToken reused with another request; the same request
# returns the same export), UnknownOperationException, MissingAuthenticationTokenException,
# UnrecognizedClientException, InvalidSignatureException; a body over 16 MB is refused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import botocore' 2>/dev/null || { echo "SKIP: no python3-botocore"; exit 0; }
make_home
work=$TM_HOME/work
mkdir -p "$work"
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; _tm_cleanup' EXIT
for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
printf '# two key pairs\nAKIDONE secret-one\nAKIDTWO:secret-two\n' >"$work/keys"
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tidemark --data "$TM_HOME" serve --listen "127.0.0.1:$port" --credentials "$work/keys" 2>"$work/serve.log" &
SRV=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.05; done
assert_contains "$(cat "$work/serve.log")" "SigV4 required: 2 key pairs"

"$PY" - "http://127.0.0.1:$port" "$TM_HOME" <<'EOF' || fail "error shapes"
import json, sys, time, zlib, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import boto3
from botocore.exceptions import ClientError

url, home = sys.argv[1], sys.argv[2]
ONE = Credentials("AKIDONE", "secret-one")
bad = 0


def raw(op, body, creds=ONE, sign=True, target=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/x-amz-json-1.0",
         "X-Amz-Target": target or "DynamoDB_20120810." + op}
    r = AWSRequest(method="POST", url=url + "/", data=data, headers=h)
    if sign:
        SigV4Auth(creds, "dynamodb", "us-east-1").add_auth(r)
    req = urllib.request.Request(url + "/", data=data, headers=dict(r.headers), method="POST")
    try:
        resp = urllib.request.urlopen(req)
    except urllib.error.HTTPError as e:
        resp = e
    text = resp.read()
    crc = resp.headers.get("x-amz-crc32")
    if crc is None or int(crc) != zlib.crc32(text):
        raise SystemExit("x-amz-crc32 %r does not match the body of %s" % (crc, op))
    return resp.status, json.loads(text) if text else {}


def expect(what, op, body, status, etype, **kw):
    global bad
    st, b = raw(op, body, **kw)
    t = b.get("__type", "").split("#")[-1]
    ok = st == status and t == etype and isinstance(b.get("message"), str)
    print("%s %s: %s %s %s" % ("ok " if ok else "BAD", what, st, t, b.get("message", "")[:100]))
    bad |= not ok
    return b


def ok(op, body):
    st, b = raw(op, body)
    if st != 200:
        raise SystemExit("%s: %s %s" % (op, st, b))
    return b


KS = {"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
      "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}
ok("CreateTable", {"TableName": "Things", **KS})
ok("PutItem", {"TableName": "Things", "Item": {"id": {"S": "a"}, "n": {"N": "1"}}})

expect("failed condition", "PutItem", {"TableName": "Things", "Item": {"id": {"S": "a"}},
       "ConditionExpression": "attribute_not_exists(id)"}, 400, "ConditionalCheckFailedException")
expect("missing table", "GetItem", {"TableName": "Nope", "Key": {"id": {"S": "a"}}}, 400, "ResourceNotFoundException")
expect("existing table", "CreateTable", {"TableName": "Things", **KS}, 400, "ResourceInUseException")
expect("key off the schema", "GetItem", {"TableName": "Things", "Key": {"other": {"S": "a"}}}, 400, "ValidationException")
expect("N as a JSON number", "PutItem", {"TableName": "Things", "Item": {"id": {"S": "b"}, "n": {"N": 5}}},
       400, "SerializationException")
expect("body not JSON", "PutItem", b"{not json", 400, "SerializationException")
expect("unknown operation", "DoSomething", {}, 400, "UnknownOperationException")
expect("no target prefix", "x", {}, 400, "UnknownOperationException", target="Other.ListTables")
expect("no Authorization", "ListTables", {}, 400, "MissingAuthenticationTokenException", sign=False)
expect("unknown key id", "ListTables", {}, 400, "UnrecognizedClientException", creds=Credentials("AKIDNONE", "x"))
expect("bad signature", "ListTables", {}, 400, "InvalidSignatureException", creds=Credentials("AKIDONE", "wrong"))
st, _ = raw("ListTables", {}, creds=Credentials("AKIDTWO", "secret-two"))
if st != 200:
    print("BAD the second key pair of the file: %s" % st); bad = 1
st, b = raw("PutItem", b'{"TableName":"Things","Item":{"id":{"S":"' + b"x" * (17 << 20) + b'"}}}')
print("%s body over 16 MB: %s" % ("ok " if st == 413 else "BAD", st)); bad |= st != 413

# PITR and backups
now = time.time()
expect("restore without PITR", "RestoreTableToPointInTime", {"SourceTableName": "Things", "TargetTableName": "Target2",
       "RestoreDateTime": now - 5}, 400, "PointInTimeRecoveryUnavailableException")
ok("UpdateContinuousBackups", {"TableName": "Things", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
time.sleep(1.1)
ok("PutItem", {"TableName": "Things", "Item": {"id": {"S": "c"}}})
expect("restore before the window", "RestoreTableToPointInTime", {"SourceTableName": "Things", "TargetTableName": "Target2",
       "RestoreDateTime": now - 3600}, 400, "InvalidRestoreTimeException")
ok("CreateTable", {"TableName": "Taken", **KS})
expect("restore onto a table", "RestoreTableToPointInTime", {"SourceTableName": "Things", "TargetTableName": "Taken",
       "UseLatestRestorableTime": True}, 400, "TableAlreadyExistsException")
arn = "arn:aws:dynamodb:us-east-1:000000000000:table/Things"
expect("export time in the future", "ExportTableToPointInTime", {"TableArn": arn, "S3Bucket": "b",
       "ExportTime": now + 3600}, 400, "InvalidExportTimeException")
dest = home + "/exports-out"
first = {"TableArn": arn, "S3Bucket": "b", "TidemarkDestination": dest, "ClientToken": "tok-1"}
a = ok("ExportTableToPointInTime", first)["ExportDescription"]
b2 = ok("ExportTableToPointInTime", first)["ExportDescription"]
same = a["ExportArn"] == b2["ExportArn"] and a["ExportStatus"] == "IN_PROGRESS"
print("%s same ClientToken, same request: the same export%s" % ("ok " if same else "BAD",
      "" if same else " (first %s, again %s)" % (json.dumps(a), json.dumps(b2)))); bad |= not same
expect("same ClientToken, another request", "ExportTableToPointInTime", {**first, "S3Prefix": "other"}, 400,
       "ExportConflictException")
for _ in range(100):
    d = ok("DescribeExport", {"ExportArn": a["ExportArn"]})["ExportDescription"]
    if d["ExportStatus"] != "IN_PROGRESS":
        break
    time.sleep(0.1)
print("%s background export: %s" % ("ok " if d["ExportStatus"] == "COMPLETED" else "BAD", d["ExportStatus"]))
bad |= d["ExportStatus"] != "COMPLETED"
imp = {"TidemarkSource": d.get("ExportManifest") and dest + "/AWSDynamoDB/" + a["ExportArn"].split("/")[-1],
       "S3BucketSource": {"S3Bucket": "b"}, "InputFormat": "DYNAMODB_JSON", "ClientToken": "imp-1",
       "TableCreationParameters": {"TableName": "Copied", **KS}}
ok("ImportTable", imp)
expect("same import ClientToken, another request", "ImportTable",
       {**imp, "TableCreationParameters": {"TableName": "Copied2", **KS}}, 400, "ImportConflictException")
expect("import onto a table", "ImportTable", {**imp, "ClientToken": "imp-2",
       "TableCreationParameters": {"TableName": "Taken", **KS}}, 400, "ResourceInUseException")

# what boto3 raises for these
c = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDONE",
                 aws_secret_access_key="secret-one")
for f, want in [(lambda: c.describe_table(TableName="Nope"), "ResourceNotFoundException"),
                (lambda: c.put_item(TableName="Things", Item={"id": {"S": "a"}},
                                    ConditionExpression="attribute_not_exists(id)"),
                 "ConditionalCheckFailedException")]:
    try:
        f()
        got = "no error"
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if want == "ConditionalCheckFailedException" and not isinstance(e, c.exceptions.ConditionalCheckFailedException):
            got += " (not the modeled exception class)"
    print("%s boto3 raises %s" % ("ok " if got == want else "BAD", got)); bad |= got != want
sys.exit(1 if bad else 0)
EOF
echo "serve_errors: OK"
