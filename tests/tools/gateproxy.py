#!/usr/bin/python3
"""gateproxy.py - a reverse proxy whose answers a test sets per DynamoDB
operation, to put a mount in front of an outage, throttling or odd pages.

Every request is forwarded to UPSTREAM unchanged unless the control file
(read again at each request, so a test changes the rules mid-run) has a line
"OP ACTION" for its X-Amz-Target operation (OP "*" matches every operation):

  500       answers 500 InternalServerError; nothing is forwarded
  throttle  answers 400 ProvisionedThroughputExceededException, as DynamoDB
            does; nothing is forwarded
  empty N   (Scan and Query) the first N pages of each listing come back with
            no items and a LastEvaluatedKey, as DynamoDB may answer a page that
            read nothing it could return; the listing then goes on from where
            it began, so no item is lost or repeated
  pass      forwards (the default)

Each request's operation and the action taken are appended to LOG as
"OP ACTION" lines.

usage: gateproxy.py UPSTREAM_URL CONTROL_FILE LOG
Listens on 127.0.0.1, prints its port on the first line of stdout, runs until
killed (SIGTERM).
"""
import http.client
import json
import sys
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

upstream = urllib.parse.urlparse(sys.argv[1])
control_path = sys.argv[2]
log_path = sys.argv[3]
log_lock = threading.Lock()
MARK = "gateproxy-empty-page"


def rules():
    out = {}
    try:
        with open(control_path) as f:
            for line in f:
                words = line.split()
                if len(words) >= 2:
                    out[words[0]] = words[1:]
    except FileNotFoundError:
        pass
    return out


def error_body(code, message):
    return json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + code,
                       "message": message}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        self.send_response(status)
        sent = set()
        for k, v in (headers or {}).items():
            if k.lower() in ("content-length", "connection", "x-amz-crc32",
                             "transfer-encoding"):
                continue
            self.send_header(k, v)
            sent.add(k.lower())
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "gateproxy")
        self.send_header("x-amz-crc32", str(zlib.crc32(body) & 0xffffffff))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self, body):
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                          timeout=60)
        fwd = {k: v for k, v in self.headers.items()
               if k.lower() not in ("connection", "content-length")}
        fwd["Content-Length"] = str(len(body))
        conn.request("POST", self.path, body=body, headers=fwd)
        resp = conn.getresponse()
        out = resp.read()
        headers = dict(resp.getheaders())
        conn.close()
        return resp.status, out, headers

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        op = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        rule = rules()
        action = rule.get(op) or rule.get("*") or ["pass"]
        with log_lock, open(log_path, "a") as log:
            log.write("%s %s\n" % (op, " ".join(action)))
        if action[0] == "500":
            self.answer(500, error_body("InternalServerError",
                                        "Internal server error (gateproxy)"))
            return
        if action[0] == "throttle":
            self.answer(400, error_body(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the "
                "table was exceeded. Consider increasing your provisioning "
                "level with the UpdateTable API."))
            return
        if action[0] == "empty" and op in ("Scan", "Query"):
            req = json.loads(body)
            start = req.get("ExclusiveStartKey") or {}
            mark = start.get(MARK)
            done = int(mark["N"]) if mark else 0
            if done < int(action[1]):
                page = {"Items": [], "Count": 0, "ScannedCount": 0,
                        "LastEvaluatedKey": {MARK: {"N": str(done + 1)}}}
                self.answer(200, json.dumps(page).encode())
                return
            if mark:
                del req["ExclusiveStartKey"]
                body = json.dumps(req).encode()
        status, out, headers = self.forward(body)
        self.answer(status, out, headers)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
