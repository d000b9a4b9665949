"""proxy_base.py: what the S3 test proxies (sigv4_proxy.py, fault_proxy.py) share: a threaded
HTTP/1.1 handler that logs one line a request, answers S3's XML errors, and forwards a request
to the upstream port byte for byte (Host included, so signatures stay valid) and relays the
answer's status and headers. Binds 127.0.0.1 only. Standard library only.
"""
import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "expect"}


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    log = sys.stderr
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def note(self, line):
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    def reply_error(self, status, code, message, request_id, extra=""):
        """S3's XML error; message is escaped here, extra is XML already."""
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message>{extra}<RequestId>{request_id}</RequestId>"
                "</Error>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_upstream(self, body):
        """This request with body, to the upstream; returns (connection, response): the caller
        closes the connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=300)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                conn.putheader(k, v)
        if body or self.command in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if body else None)
        return conn, conn.getresponse()

    def relay_head(self, resp, length):
        """The upstream's status and headers, with Content-Length length (None: none)."""
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()


def serve(port, handler):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.serve_forever()
