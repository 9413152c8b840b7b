#!/usr/bin/python3
"""faultproxy.py - a reverse proxy that plays a busy DynamoDB in front of a
local server: throttling, internal errors and partial BatchWriteItems.

What real accounts do and the local servers never do, at seeded rates:
- THROTTLE (default 0.30) of requests are answered 400
  ProvisionedThroughputExceededException or ThrottlingException, as DynamoDB
  sends them (__type, message, x-amzn-RequestId, x-amz-crc32), unforwarded;
- ERROR (default 0.05) are answered 500 InternalServerError, unforwarded;
- LATE (default 0.03) are forwarded, applied by the server, and then answered
  500 all the same (DynamoDB can fail after a write was applied: the client
  must treat the write as unknown, and SPEC section 7 calls a retried
  unconditional put harmless);
- every other BatchWriteItem of two or more requests has each of its
  requests left out with probability 1/2: only the rest is forwarded, and
  the left-out ones come back in UnprocessedItems, with number texts made
  canonical and set members shuffled (an echo need not be the bytes sent).
  When every request would be left out, the answer is
  ProvisionedThroughputExceededException instead, as DynamoDB does.
Bodies it rewrites get a fresh x-amz-crc32 and Content-Length. It re-signs
nothing: the local servers do not check signatures (sigcheck_proxy.py does
that). Accept-Encoding is dropped so that no answer comes compressed.

usage: faultproxy.py UPSTREAM_URL [--seed N] [--throttle P] [--error P]
                     [--late P] [--log FILE] [--rules FILE]
The seed defaults to $FAULTPROXY_SEED, else 1. With --log, each request adds
one line "OP DECISION" (DECISION: pass, throttle, error, late, partial K/N).
With --rules, FILE (read at each request, absent: no rules) is a JSON object
mapping an operation name (or "*": every other one) to "throttle", "error",
"late" or "pass": every request of that operation gets that answer instead of
a random one, so a test can fail one step of a file system call for certain,
or hold the storm off ({"*": "pass"}) until the mount is up.
Listens on 127.0.0.1, prints its port on the first line of stdout, runs until
killed (SIGTERM).
"""
import argparse
import http.client
import json
import os
import random
import string
import sys
import threading
import urllib.parse
import zlib
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "com.amazonaws.dynamodb.v20120810#"
THROTTLES = [
    (PREFIX + "ProvisionedThroughputExceededException",
     "The level of configured provisioned throughput for the table was "
     "exceeded. Consider increasing your provisioning level with the "
     "UpdateTable API."),
    ("com.amazon.coral.availability#ThrottlingException",
     "Rate of requests exceeds the allowed throughput."),
]
INTERNAL = (PREFIX + "InternalServerError", "Internal server error")

args = None
upstream = None
rng = None
rng_lock = threading.Lock()
log_lock = threading.Lock()


def request_id(r):
    return "".join(r.choice(string.ascii_uppercase + string.digits)
                   for _ in range(52))


def canonical_number(text):
    """DynamoDB's text for a number: plain notation, no spare zeros."""
    d = Decimal(text)
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


def echo(value, r):
    """An attribute value as a server may hand it back: numbers canonical,
    set members in another order."""
    if isinstance(value, dict) and len(value) == 1:
        (tag, v), = value.items()
        if tag == "N":
            return {"N": canonical_number(v)}
        if tag in ("SS", "NS", "BS"):
            members = [canonical_number(m) if tag == "NS" else m for m in v]
            r.shuffle(members)
            return {tag: members}
        if tag == "L":
            return {"L": [echo(m, r) for m in v]}
        if tag == "M":
            return {"M": {k: echo(m, r) for k, m in v.items()}}
    return value


def echo_request(wr, r):
    put = wr.get("PutRequest")
    if put is not None:
        return {"PutRequest": {"Item": {k: echo(v, r) for k, v in
                                        put.get("Item", {}).items()}}}
    return wr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def rule(self, op):
        if not args.rules:
            return None
        try:
            with open(args.rules) as f:
                rules = json.load(f)
            return rules.get(op, rules.get("*"))
        except FileNotFoundError:
            return None

    def note(self, op, decision):
        if args.log:
            with log_lock, open(args.log, "a") as f:
                f.write("%s %s\n" % (op, decision))

    def answer(self, status, body, headers=None, rid=None):
        out = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = dict(headers or {})
        for k in list(hdrs):
            if k.lower() in ("content-length", "x-amz-crc32", "connection",
                             "transfer-encoding", "content-encoding"):
                del hdrs[k]
        hdrs.setdefault("Content-Type", "application/x-amz-json-1.0")
        if rid:
            hdrs["x-amzn-RequestId"] = rid
        hdrs["x-amz-crc32"] = str(zlib.crc32(out) & 0xffffffff)
        hdrs["Content-Length"] = str(len(out))
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(out)

    def forward(self, body):
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                          timeout=60)
        fwd = {k: v for k, v in self.headers.items()
               if k.lower() not in ("connection", "accept-encoding",
                                    "content-length")}
        fwd["Content-Length"] = str(len(body))
        try:
            conn.request("POST", self.path, body=body, headers=fwd)
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        target = self.headers.get("X-Amz-Target", "")
        op = target.rpartition(".")[2] or "?"
        with rng_lock:
            roll = rng.random()
            r = random.Random(rng.getrandbits(64))
        rid = request_id(r)
        decision = self.rule(op)
        if decision is None:
            decision = "random"
            if roll < args.throttle:
                decision = "throttle"
            elif roll < args.throttle + args.error:
                decision = "error"
            elif roll < args.throttle + args.error + args.late:
                decision = "late"
        if decision == "throttle":
            code, msg = THROTTLES[r.randrange(2)]
            self.note(op, "throttle")
            return self.answer(400, {"__type": code, "message": msg}, rid=rid)
        if decision == "error":
            self.note(op, "error")
            return self.answer(500, {"__type": INTERNAL[0],
                                     "message": INTERNAL[1]}, rid=rid)
        if decision == "late":
            status, out, hdrs = self.forward(body)
            self.note(op, "late %d" % status)
            return self.answer(500, {"__type": INTERNAL[0],
                                     "message": INTERNAL[1]}, rid=rid)
        if op == "BatchWriteItem" and decision == "random":
            return self.batch_write(body, r, rid)
        status, out, hdrs = self.forward(body)
        self.note(op, "pass")
        self.answer(status, out, hdrs)

    def batch_write(self, body, r, rid):
        req = json.loads(body)
        items = req.get("RequestItems", {})
        total = sum(len(v) for v in items.values())
        if total < 2:
            status, out, hdrs = self.forward(body)
            self.note("BatchWriteItem", "pass")
            return self.answer(status, out, hdrs)
        keep, left = {}, {}
        for table, writes in items.items():
            for w in writes:
                (keep if r.random() < 0.5 else left).setdefault(
                    table, []).append(w)
        n_left = sum(len(v) for v in left.values())
        if n_left == total:
            code, msg = THROTTLES[0]
            self.note("BatchWriteItem", "throttle")
            return self.answer(400, {"__type": code, "message": msg}, rid=rid)
        if n_left == 0:
            status, out, hdrs = self.forward(body)
            self.note("BatchWriteItem", "pass")
            return self.answer(status, out, hdrs)
        sub = dict(req)
        sub["RequestItems"] = keep
        status, out, hdrs = self.forward(json.dumps(sub).encode())
        if status != 200:
            self.note("BatchWriteItem", "partial-failed %d" % status)
            return self.answer(status, out, hdrs)
        resp = json.loads(out)
        unprocessed = resp.get("UnprocessedItems") or {}
        for table, writes in left.items():
            unprocessed.setdefault(table, []).extend(
                echo_request(w, r) for w in writes)
        for writes in unprocessed.values():
            r.shuffle(writes)
        resp["UnprocessedItems"] = unprocessed
        self.note("BatchWriteItem", "partial %d/%d" % (total - n_left, total))
        self.answer(200, resp, hdrs)


def main():
    global args, upstream, rng
    p = argparse.ArgumentParser()
    p.add_argument("upstream")
    p.add_argument("--seed", type=int,
                   default=int(os.environ.get("FAULTPROXY_SEED", "1")))
    p.add_argument("--throttle", type=float, default=0.30)
    p.add_argument("--error", type=float, default=0.05)
    p.add_argument("--late", type=float, default=0.03)
    p.add_argument("--log")
    p.add_argument("--rules")
    args = p.parse_args()
    upstream = urllib.parse.urlparse(args.upstream)
    rng = random.Random(args.seed)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
