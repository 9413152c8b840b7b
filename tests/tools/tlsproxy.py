#!/usr/bin/python3
"""tlsproxy.py - a TLS-terminating reverse proxy for end-to-end tests: it
answers https on 127.0.0.1 with the given certificate and forwards every
request, unchanged, over plain http to UPSTREAM (a local DynamoDB server), so
that a test can point a client at https://127.0.0.1:PORT with a throwaway CA.

A client that refuses the certificate ends the handshake; the proxy drops
that connection quietly and goes on. With LOG, each accepted connection adds
the line "connect" (before its handshake) and each request that arrived over
TLS the line "METHOD PATH", so a test can tell that nothing was sent.

usage: tlsproxy.py UPSTREAM_URL CERT_PEM KEY_PEM [LOG]
Listens on 127.0.0.1, prints its port on the first line of stdout, runs until
killed (SIGTERM).
"""
import http.client
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

upstream = urllib.parse.urlparse(sys.argv[1])
cert, key = sys.argv[2], sys.argv[3]
log_path = sys.argv[4] if len(sys.argv) > 4 else None
log_lock = threading.Lock()
HOP = ("connection", "keep-alive", "transfer-encoding", "content-length",
       "proxy-connection", "upgrade", "te", "trailer")


def note(line):
    if log_path:
        with log_lock, open(log_path, "a") as f:
            f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def setup(self):
        note("connect")
        super().setup()

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        note("%s %s" % (self.command, self.path))
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                          timeout=60)
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        fwd["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body, headers=fwd)
            resp = conn.getresponse()
            out = resp.read()
            headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in HOP]
            status = resp.status
        finally:
            conn.close()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = relay
    do_GET = relay
    do_PUT = relay


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A handshake the client refused, or a client that went away:
        # expected in these tests, not worth a traceback.
        pass


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", 0), Handler)
    # The handshake happens in the handler's thread at its first read, so a
    # slow or refusing client never holds up accept().
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
