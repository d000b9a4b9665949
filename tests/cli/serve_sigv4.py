# serve_sigv4.py PORT ID SECRET: SigV4 cases signed here by hand against `tidemark serve`; each
# is checked against the status and error type Amazon DynamoDB gives; exits 1 on a mismatch.
import datetime, hashlib, hmac, http.client, json, sys

port, ID, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def H(b):
    return hashlib.sha256(b).hexdigest()


def mac(k, m):
    return hmac.new(k, m.encode(), hashlib.sha256).digest()


def sign(headers, body, signed, date, secret=SECRET, kid=ID, region="us-east-1", service="dynamodb",
         query="", term="aws4_request", sig_len=64, credential_date=None):
    day = (credential_date or date)[:8]
    canon = "".join("%s:%s\n" % (n, " ".join(",".join(v for k, v in headers if k.lower() == n).split()))
                    for n in signed)
    creq = "POST\n/\n%s\n%s\n%s\n%s" % (query, canon, ";".join(signed), H(body))
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (date, scope, H(creq.encode()))
    k = mac(("AWS4" + secret).encode(), day)
    for part in (region, service, "aws4_request"):
        k = mac(k, part)
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()[:sig_len]
    return "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/%s, SignedHeaders=%s, Signature=%s" % (
        kid, day, region, service, term, ";".join(signed), sig)


failed = 0


def case(name, want, mutate=None, skew=0, date=None, extra=(), signed=None, query="", **kw):
    global failed
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=skew)
    date = date or now.strftime("%Y%m%dT%H%M%SZ")
    body = b"{}"
    headers = [("Host", "127.0.0.1:%d" % port), ("Content-Type", "application/x-amz-json-1.0"),
               ("X-Amz-Date", date), ("X-Amz-Target", "DynamoDB_20120810.ListTables")] + list(extra)
    signed = signed or sorted({k.lower() for k, v in headers})
    auth = sign(headers, body, signed, date, query=query, **kw)
    if mutate:
        auth = mutate(auth)
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.putrequest("POST", "/" + ("?" + query if query else ""), skip_host=True, skip_accept_encoding=True)
    for k, v in headers:
        c.putheader(k, v)
    if auth is not None:
        c.putheader("Authorization", auth)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    d = r.read()
    got = "200" if r.status == 200 else "%d %s" % (r.status, json.loads(d).get("__type", "").split("#")[-1])
    ok = got == want
    failed += not ok
    print("%-4s %-22s %s%s" % ("ok" if ok else "FAIL", name, got, "" if ok else " (want %s)" % want))


BAD = "400 InvalidSignatureException"
case("valid", "200")
case("within 10 min", "200", skew=-600)
case("repeated header", "200", extra=[("X-Custom", "a"), ("X-Custom", "b  c")])
case("spaces in a value", "200", extra=[("X-Spaced", "  a   b\t c  ")])
case("query signed", "200", query="a=1&b=%20x")
case("wrong secret", BAD, secret="nope")
case("unknown key", "400 UnrecognizedClientException", kid="AKIDOTHER")
case("20 min old", BAD, skew=-1200)
case("20 min ahead", BAD, skew=1200)
case("host unsigned", BAD, signed=["content-type", "x-amz-date", "x-amz-target"])
case("signed, not sent", BAD, signed=["content-type", "host", "x-amz-date", "x-amz-target", "x-nothere"])
case("no signature", BAD, mutate=lambda a: a.split(", Signature")[0])
case("no Authorization", "400 MissingAuthenticationTokenException", mutate=lambda a: None)
case("not AWS4", BAD, mutate=lambda a: a.replace("AWS4-HMAC-SHA256", "AWS3", 1))
case("date shape", BAD, date="2025-01-01T00:00:00Z")
case("scope date differs", BAD, credential_date="20200101T000000Z")
case("service s3", BAD, service="s3")
case("63 hex digits", BAD, sig_len=63)
case("upper-case hex", BAD, mutate=lambda a: a[:-64] + a[-64:].upper())
case("66 hex digits", BAD, mutate=lambda a: a + "ab")
case("scope terminator", BAD, term="aws4_requesx")
case("scope terminator+", BAD, term="aws4_requestx")
case("month 13", BAD, date="20251301T000000Z")
sys.exit(1 if failed else 0)
