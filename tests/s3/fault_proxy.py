#!/usr/bin/python3
"""fault_proxy.py: makes an S3 endpoint unreliable, reproducibly, for retry tests.

For each request it draws from a seeded random generator; with probability --rate the request
gets one of the --faults instead of (or in the middle of) the upstream's answer:

  500        500 InternalError
  503        503 ServiceUnavailable
  slowdown   503 SlowDown ("Please reduce your request rate.")
  429        429 SlowDown
  drop       reads the request, then closes the connection without a word
  cut        forwards the request, sends the upstream's headers and half its body, then closes
             (a dropped connection in the middle of a download)
  403        403 AccessDenied (not retried)

--message TEXT replaces the <Message> of the error faults, after expanding {authorization},
{token} and {query} to the request's Authorization header, x-amz-security-token header and query
string: a server that echoes credentials, for the redaction tests.

--match REGEX limits faults to requests whose "METHOD /path?query" matches (e.g. partNumber=3).
--every N replaces the dice: every Nth matching request (the Nth, 2Nth, ...) gets a fault.
Requests and headers are forwarded byte-for-byte (Host included), so signatures stay valid for
the SigV4 proxy behind. Binds 127.0.0.1. Standard library only. Logs one line per request.

usage: fault_proxy.py --listen PORT --upstream PORT [--rate 0.25] [--seed 1] [--every N]
                      [--faults 500,503,slowdown,429,drop,cut,403] [--match REGEX]
                      [--message TEXT] [--log FILE]
"""
import argparse
import random
import re
import sys

from proxy_base import ProxyHandler, serve
ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "429": (429, "SlowDown", "Please reduce your request rate."),
    "403": (403, "AccessDenied", "Access Denied"),
}


class Faulty(ProxyHandler):
    rate = faults = match = rng = every = message = None
    seen = 0
    counts = {}

    def pick(self):
        if self.match and not self.match.search(f"{self.command} {self.path}"):
            return None
        with self.lock:
            Faulty.seen += 1
            roll = self.rng.random()
            which = self.rng.choice(self.faults)
            if self.every:
                return which if Faulty.seen % self.every == 0 else None
        return which if roll < self.rate else None

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        body = self.read_body()
        fault = self.pick()
        with self.lock:
            self.counts[fault or "ok"] = self.counts.get(fault or "ok", 0) + 1
        self.note(f"{fault or 'pass'} {self.command} {self.path}")
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault in ERRORS:
            status, code, msg = ERRORS[fault]
            if self.message is not None:
                q = self.path.split("?", 1)
                msg = (self.message.replace("{authorization}", self.headers.get("Authorization", ""))
                       .replace("{token}", self.headers.get("x-amz-security-token", ""))
                       .replace("{query}", q[1] if len(q) > 1 else ""))
            self.reply_error(status, code, msg, "fault-proxy")
            return
        self.forward(body, cut=fault == "cut")

    def forward(self, body, cut):
        conn, resp = self.send_upstream(body)
        try:
            data = resp.read() if self.command != "HEAD" else b""
            self.relay_head(resp, resp.getheader("Content-Length") or str(len(data)))
            if cut:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--rate", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--faults", default="500,503,slowdown,429,drop,cut")
    ap.add_argument("--match")
    ap.add_argument("--every", type=int)
    ap.add_argument("--log")
    ap.add_argument("--message")
    a = ap.parse_args()
    Faulty.upstream = a.upstream
    Faulty.rate = a.rate
    Faulty.faults = a.faults.split(",")
    for f in Faulty.faults:
        if f not in ERRORS and f not in ("drop", "cut"):
            sys.exit(f"unknown fault {f}")
    Faulty.match = re.compile(a.match) if a.match else None
    Faulty.rng = random.Random(a.seed)
    Faulty.every = a.every
    Faulty.message = a.message
    if a.log:
        Faulty.log = open(a.log, "a", buffering=1)
    serve(a.listen, Faulty)


if __name__ == "__main__":
    main()
