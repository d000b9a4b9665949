#!/usr/bin/env python3
"""../shared/tools/sigv4-check.py (a strict SigV4 proxy written for S3) made to check service
"dynamodb" instead of "s3", for remote_test.

usage: sigv4_ddb.py TOOL LISTEN_PORT UPSTREAM_PORT ACCESS_KEY SECRET REGION
The tool's own verify() does the checking. Two changes, both asserted to apply: the scope's
service must be dynamodb; and since DynamoDB clients sign sha256(body) without sending
x-amz-content-sha256 (S3 clients send it), that value is put in the header map before verify()
reads it: it is not a signed header, so the canonical request is unchanged."""
import hashlib, sys

tool = sys.argv.pop(1)
src = open(tool).read()
serve = 'ThreadingHTTPServer(("127.0.0.1", LISTEN), H).serve_forever()'
scope = 'if region != REGION or service != "s3":'
assert serve in src and scope in src, "sigv4-check.py changed: update sigv4_ddb.py"
src = src.replace(serve, "").replace(scope, 'if region != REGION or service != "dynamodb":')
ns = {"__name__": "sigv4check"}
exec(compile(src, tool, "exec"), ns)
check = ns["verify"]


def verify(method, raw_path, headers, body):
    headers.setdefault("x-amz-content-sha256", hashlib.sha256(body).hexdigest())
    return check(method, raw_path, headers, body)


ns["verify"] = verify
ns["ThreadingHTTPServer"](("127.0.0.1", ns["LISTEN"]), ns["H"]).serve_forever()
