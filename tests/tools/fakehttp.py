#!/usr/bin/python3
"""fakehttp.py - a scripted HTTP/1.1 server on 127.0.0.1 for unit tests.

Usage: fakehttp.py SCRIPT.json LOG.jsonl
Binds 127.0.0.1 on a free port, prints the port on the first line of stdout,
then answers each request with the first rule of SCRIPT that matches it and has
uses left. A rule: {"method": "GET", "path": "/x", "status": 200,
"headers": {...}, "body": "text" or JSON value, "times": N,
"crc32": "good" | "bad" | "none", "delay_ms": N, "close": true,
"require_header": {"name": "value"}}. Unmatched requests get 404. Every
request is appended to LOG as one JSON line (method, path, headers, body).
Stops on SIGTERM or when its parent closes stdin.

Optional, for connection and concurrency tests:
- each log line also has "peer_port" (the client's TCP port, so a test can
  count connections) and "inflight" (requests being handled when this one
  arrived, itself included);
- a rule may hold "match_header": {"name": "value"} (name in any case) and
  "match_body": "substring": the rule applies only to requests that have
  those (unlike require_header, which answers 401 when missing);
- a rule with "barrier": N holds each request it answers until N requests
  have reached it, so they all succeed only when the client sent them
  concurrently; after "barrier_timeout_ms" (default 10000) it answers 504.
  Rules with the same "barrier_name" share one count (e.g. one rule per
  parallel Scan segment, all held until every segment has arrived);
- a rule with "serial": true serves its delay_ms one request at a time (a
  server busy on one CPU: requests that arrive together queue, and each
  waits for those before it).
"""
import json
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

script = json.load(open(sys.argv[1]))
log_path = sys.argv[2]
lock = threading.Lock()
uses = [0] * len(script)
arrived = {}
barrier_cv = threading.Condition(lock)
serial_lock = threading.Lock()
inflight = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        global inflight
        with lock:
            inflight += 1
        try:
            self.handle_counted()
        finally:
            with lock:
                inflight -= 1

    def handle_counted(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        text = body.decode("utf-8", "replace")
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": text}
        index = None
        with lock:
            entry["peer_port"] = self.client_address[1]
            entry["inflight"] = inflight
            with open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
            rule = None
            for i, r in enumerate(script):
                if r.get("method", self.command) != self.command:
                    continue
                if r.get("path", self.path) != self.path:
                    continue
                if any(self.headers.get(k) != v
                       for k, v in r.get("match_header", {}).items()):
                    continue
                if r.get("match_body", "") not in text:
                    continue
                if "times" in r and uses[i] >= r["times"]:
                    continue
                uses[i] += 1
                rule = r
                index = i
                break
            if rule is not None and rule.get("barrier"):
                name = rule.get("barrier_name", index)
                arrived[name] = arrived.get(name, 0) + 1
                barrier_cv.notify_all()
                ok = barrier_cv.wait_for(
                    lambda: arrived[name] >= rule["barrier"],
                    rule.get("barrier_timeout_ms", 10000) / 1000.0)
                if not ok:
                    rule = {"status": 504, "body": "barrier timeout"}
        if rule is None:
            rule = {"status": 404, "body": "no rule"}
        for k, v in rule.get("require_header", {}).items():
            if self.headers.get(k) != v:
                rule = {"status": 401, "body": "missing header " + k}
        if rule.get("delay_ms") and rule.get("serial"):
            with serial_lock:
                time.sleep(rule["delay_ms"] / 1000.0)
        elif rule.get("delay_ms"):
            time.sleep(rule["delay_ms"] / 1000.0)
        if rule.get("close"):
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        out = rule.get("body", "")
        if not isinstance(out, str):
            out = json.dumps(out)
        out = out.encode("utf-8")
        self.send_response(rule.get("status", 200))
        for k, v in rule.get("headers", {}).items():
            self.send_header(k, v)
        crc = rule.get("crc32", "none")
        if crc == "good":
            self.send_header("x-amz-crc32", str(zlib.crc32(out) & 0xffffffff))
        elif crc == "bad":
            self.send_header("x-amz-crc32", str((zlib.crc32(out) + 1) & 0xffffffff))
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT = do_POST = do_DELETE = handle_any


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    # Exit when the parent goes away (it holds our stdin open).
    sys.stdin.read()
    srv.shutdown()


if __name__ == "__main__":
    main()
