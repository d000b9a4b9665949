#!/usr/bin/python3
"""sigv4_proxy.py: a strict AWS Signature V4 gate in front of an S3 test server.

s3rver accepts any signature. This proxy recomputes every request's signature from scratch
(canonical request -> string to sign -> signing key derived from the known secret) and forwards
only the requests S3 itself would accept; the others get S3's XML error:

  403 AccessDenied            no Authorization header, or not SigV4
  403 InvalidAccessKeyId      unknown access key
  400 AuthorizationHeaderMalformed  bad credential scope (date, region, service, terminator)
  403 RequestTimeTooSkewed    x-amz-date more than 15 minutes off
  403 SignatureDoesNotMatch   the signature differs (the canonical request is in the error), or a
                              required header (host, x-amz-date, x-amz-content-sha256, any x-amz-*)
                              is not signed
  400 InvalidRequest          x-amz-content-sha256 missing, or Content-MD5 missing on
                              DeleteObjects (S3 requires it there)
  400 XAmzContentSHA256Mismatch  x-amz-content-sha256 is not the SHA-256 of the body
  400 BadDigest               Content-MD5 is not the MD5 of the body
  411 MissingContentLength    a body without Content-Length (chunked)
  403 InvalidToken            a session token was configured and the request's differs

usage: sigv4_proxy.py --listen PORT --upstream PORT [--access-key K] [--secret S]
                      [--region R] [--token T] [--log FILE]
Binds 127.0.0.1 only. Standard library only. Written for tidemark's tests from the public
SigV4 documentation; every request is logged as one line.
"""
import argparse
import base64
import hashlib
import hmac
import re
import sys
import urllib.parse
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from proxy_base import ProxyHandler, serve
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


class Reject(Exception):
    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


def uri_encode(s, keep_slash):
    """RFC 3986 percent-encoding of the UTF-8 bytes, as SigV4 specifies."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in UNRESERVED or (keep_slash and c == "/"):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def canonical_query(raw):
    if not raw:
        return ""
    pairs = []
    for part in raw.split("&"):
        if part == "":
            continue
        k, _, v = part.partition("=")
        k = urllib.parse.unquote(k, errors="strict")
        v = urllib.parse.unquote(v, errors="strict")
        pairs.append((uri_encode(k, False), uri_encode(v, False)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def hmac256(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


class Checker:
    def __init__(self, access_key, secret, region, token):
        self.access_key, self.secret, self.region, self.token = access_key, secret, region, token

    def check(self, method, target, headers, body):
        """headers: dict of lower-case name -> list of values. Raises Reject."""
        if "transfer-encoding" in headers and "content-length" not in headers:
            raise Reject(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        auth = one(headers, "authorization")
        if auth is None:
            raise Reject(403, "AccessDenied", "Anonymous requests are not allowed here.")
        m = re.fullmatch(r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),"
                         r"\s*Signature=([0-9a-f]{64})", auth.strip())
        if not m:
            raise Reject(403, "AccessDenied", "The Authorization header is not AWS4-HMAC-SHA256.")
        credential, signed, signature = m.groups()
        scope = credential.split("/")
        if len(scope) != 5:
            raise Reject(400, "AuthorizationHeaderMalformed", "The Credential is malformed.")
        akid, date, region, service, term = scope
        if akid != self.access_key:
            raise Reject(403, "InvalidAccessKeyId",
                         "The AWS Access Key Id you provided does not exist in our records.")
        if region != self.region or service != "s3" or term != "aws4_request":
            raise Reject(400, "AuthorizationHeaderMalformed",
                         f"The credential scope is wrong; expecting region {self.region}, service s3.")
        amz_date = one(headers, "x-amz-date")
        try:
            when = datetime.strptime(amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise Reject(403, "AccessDenied", "x-amz-date is missing or malformed.")
        if amz_date[:8] != date:
            raise Reject(403, "SignatureDoesNotMatch", "The credential date is not the x-amz-date day.")
        if abs((datetime.now(timezone.utc) - when).total_seconds()) > 900:
            raise Reject(403, "RequestTimeTooSkewed",
                         "The difference between the request time and the current time is too large.")
        names = signed.split(";")
        if names != sorted(names) or len(set(names)) != len(names):
            raise Reject(403, "SignatureDoesNotMatch", "SignedHeaders must be sorted and unique.")
        for required in ("host", "x-amz-date", "x-amz-content-sha256"):
            if required in headers and required not in names:
                raise Reject(403, "SignatureDoesNotMatch", f"The header {required} must be signed.")
        for h in headers:
            if h.startswith("x-amz-") and h not in names:
                raise Reject(403, "SignatureDoesNotMatch", f"The header {h} must be signed.")
        for h in names:
            if h not in headers:
                raise Reject(403, "SignatureDoesNotMatch", f"The signed header {h} is not in the request.")
        payload = one(headers, "x-amz-content-sha256")
        if payload is None:
            raise Reject(400, "InvalidRequest",
                         "Missing required header for this request: x-amz-content-sha256")
        if self.token is not None and one(headers, "x-amz-security-token") != self.token:
            raise Reject(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")

        path, _, raw_query = target.partition("?")
        try:
            canon_uri = uri_encode(urllib.parse.unquote(path, errors="strict"), True)
            canon_q = canonical_query(raw_query)
        except UnicodeDecodeError:
            raise Reject(400, "InvalidURI", "Couldn't parse the specified URI.")
        canon_headers = "".join(
            f"{h}:{','.join(' '.join(v.strip().split()) for v in headers[h])}\n" for h in names)
        creq = "\n".join([method, canon_uri, canon_q, canon_headers, signed, payload])
        scope_s = f"{date}/{region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope_s,
                         hashlib.sha256(creq.encode("utf-8")).hexdigest()])
        key = hmac256(hmac256(hmac256(hmac256(("AWS4" + self.secret).encode("utf-8"), date),
                                              region), "s3"), "aws4_request")
        want = hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, signature):
            raise Reject(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature you "
                         "provided. Check your key and signing method.",
                         {"CanonicalRequest": creq, "StringToSign": sts})

        if payload == "UNSIGNED-PAYLOAD":
            pass
        elif re.fullmatch(r"[0-9a-f]{64}", payload):
            if hashlib.sha256(body).hexdigest() != payload:
                raise Reject(400, "XAmzContentSHA256Mismatch",
                             "The provided 'x-amz-content-sha256' header does not match what was computed.")
        else:
            raise Reject(400, "InvalidArgument", "x-amz-content-sha256 must be a SHA-256 or UNSIGNED-PAYLOAD.")
        md5 = one(headers, "content-md5")
        if md5 is not None:
            if base64.b64encode(hashlib.md5(body).digest()).decode() != md5.strip():
                raise Reject(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        elif method == "POST" and re.search(r"(^|&)delete(=|&|$)", raw_query):
            raise Reject(400, "InvalidRequest", "Missing required header for this request: Content-MD5")
        return signed


def one(headers, name):
    v = headers.get(name)
    return v[0] if v else None


class Proxy(ProxyHandler):
    checker = None
    counts = {"ok": 0, "rejected": 0}

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        body = self.read_body()
        headers = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        try:
            signed = self.checker.check(self.command, self.path, headers, body)
        except Reject as r:
            with self.lock:
                self.counts["rejected"] += 1
            self.note(f"REJECT {self.command} {self.path} {r.status} {r.code}: {r.message}")
            extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in r.extra.items())
            self.reply_error(r.status, r.code, r.message, "sigv4-proxy", extra)
            return
        with self.lock:
            self.counts["ok"] += 1
        self.note(f"OK {self.command} {self.path} signed={signed}")
        self.forward(body)

    def forward(self, body):
        conn, resp = self.send_upstream(body)
        try:
            length = resp.getheader("Content-Length")
            data = None
            if length is None and self.command != "HEAD":
                data = resp.read()
                length = str(len(data))
            self.relay_head(resp, length)
            if self.command == "HEAD":
                return
            if data is not None:
                self.wfile.write(data)
                return
            while True:
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                self.wfile.write(chunk)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--access-key", default="S3RVER")
    ap.add_argument("--secret", default="S3RVER")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--token")
    ap.add_argument("--log")
    a = ap.parse_args()
    Proxy.checker = Checker(a.access_key, a.secret, a.region, a.token)
    Proxy.upstream = a.upstream
    if a.log:
        Proxy.log = open(a.log, "a", buffering=1)
    serve(a.listen, Proxy)


if __name__ == "__main__":
    main()
