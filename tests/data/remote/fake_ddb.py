#!/usr/bin/env python3
"""A fake DynamoDB endpoint for remote_test: answers chosen failures by X-Amz-Target.

usage: fake_ddb.py PORT      (binds 127.0.0.1; stdlib only)
Operations (DynamoDB_20120810.<Op>), counted per op:
  ThrottleTwice  400 ThrottlingException twice, then 200 {"Tries": n}
  ProvThrottle   400 ProvisionedThroughputExceededException once, then 200
  Always500      500 {"__type": "...#InternalServerError", "message": "boom"} every time
  Validation     400 ValidationException (Message with a capital M, as some services send)
  CondFail       400 ConditionalCheckFailedException with the item (ReturnValuesOnCondition...)
  BadCrcOnce     200 with a wrong x-amz-crc32 once, then a right one
  NotJson500     500 with an HTML body
  BatchWriteItem takes the first half (rounded up) of the requests, returns the rest as
                 UnprocessedItems; remembers what it took
  Written        200 {"Count": distinct items taken by BatchWriteItem}
  Conns          200 {"Count": distinct client connections seen so far}
  Echo           200 with the request body
  Headers        200 {"Target", "ContentType", "Authorization", "Token"}: what the request carried
  LeakToken      400 ValidationException whose message repeats the session token (the client
                 must not)
"""
import json, sys, threading, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
tries, written, conns = {}, set(), set()
T = "com.amazonaws.dynamodb.v20120810#"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, obj, crc_ok=True, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        crc = zlib.crc32(body) if crc_ok else (zlib.crc32(body) ^ 1)
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amz-crc32", str(crc))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        op = self.headers.get("X-Amz-Target", "").split(".")[-1]
        with lock:
            conns.add(self.client_address)
            n = tries[op] = tries.get(op, 0) + 1
        if op == "ThrottleTwice" and n <= 2:
            return self.send(400, {"__type": T + "ThrottlingException", "message": "slow down"})
        if op == "ProvThrottle" and n <= 1:
            return self.send(400, {"__type": T + "ProvisionedThroughputExceededException",
                                   "message": "over"})
        if op in ("ThrottleTwice", "ProvThrottle"):
            return self.send(200, {"Tries": n})
        if op == "Always500":
            return self.send(500, {"__type": T + "InternalServerError", "message": "boom"})
        if op == "Validation":
            return self.send(400, {"__type": T + "ValidationException", "Message": "bad shape"})
        if op == "CondFail":
            return self.send(400, {"__type": T + "ConditionalCheckFailedException",
                                   "message": "The conditional request failed",
                                   "Item": {"pk": {"S": "now"}}})
        if op == "BadCrcOnce":
            return self.send(200, {"Tries": n}, crc_ok=n > 1)
        if op == "NotJson500":
            return self.send(500, None, raw=b"<html>\n<body>bad gateway</body>\n</html>")
        if op == "BatchWriteItem":
            req = json.loads(body)["RequestItems"]
            un = {}
            for table, reqs in req.items():
                take = (len(reqs) + 1) // 2
                with lock:
                    for r in reqs[:take]:
                        written.add(table + json.dumps(r, sort_keys=True))
                if reqs[take:]:
                    un[table] = reqs[take:]
            return self.send(200, {"UnprocessedItems": un})
        if op == "Written":
            return self.send(200, {"Count": len(written)})
        if op == "Conns":
            return self.send(200, {"Count": len(conns)})
        if op == "Headers":
            h = self.headers
            return self.send(200, {"Target": h.get("X-Amz-Target"),
                                   "ContentType": h.get("Content-Type"),
                                   "Authorization": h.get("Authorization"),
                                   "Token": h.get("X-Amz-Security-Token")})
        if op == "LeakToken":
            return self.send(400, {"__type": T + "ValidationException",
                                   "message": "bad token " + str(self.headers.get("X-Amz-Security-Token"))})
        if op == "Echo":
            return self.send(200, None, raw=body)
        return self.send(400, {"__type": T + "UnknownOperationException", "message": op})


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
