#!/usr/bin/python3
"""sigcheck_proxy.py - a SigV4-verifying reverse proxy for end-to-end tests.

DynamoDB Local and dynalite do not check signatures, so this proxy does what
AWS does: it recomputes each request's signature with botocore from a table of
known keys and answers UnrecognizedClientException (unknown key id) or
InvalidSignatureException (wrong secret, changed request) the way DynamoDB
does; good requests are forwarded to the upstream server unchanged.

usage: sigcheck_proxy.py UPSTREAM_URL KEYS_JSON [--request-log=FILE]
                          [ISSUED_LOG...]
KEYS_JSON maps access key ids to secrets. Each ISSUED_LOG is the log of
tests/tools/fakests.py or fakesso.py: the keys they issued are accepted too
(re-read when an unknown key arrives, since the fakes issue them while the
test runs), and only with the session token issued with them. The request
log, when given, gets one JSON line per request, written before the answer
is sent: {"akid": the access key id it was signed with (null when
unsigned), "op": the X-Amz-Target operation, "status": the status answered,
"code": the error code it answered itself (null when forwarded)}, so a test
sees which key signed what; never a secret or a token. Listens on
127.0.0.1, prints its port on the first line of stdout, runs until killed
(SIGTERM).
"""
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sigv4check import parse_authorization, signature_matches

upstream = urllib.parse.urlparse(sys.argv[1])
keys = json.load(open(sys.argv[2]))
issued_logs = [a for a in sys.argv[3:] if not a.startswith("--request-log=")]
request_log = next((a.split("=", 1)[1] for a in sys.argv[3:]
                    if a.startswith("--request-log=")), None)
log_lock = threading.Lock()
tokens = {}  # the session token each issued key must come with


def learn_issued():
    """Adds the keys fakests.py has issued so far."""
    for issued_log in issued_logs:
        with open(issued_log) as f:
            for line in f:
                cred = json.loads(line).get("issued")
                if cred:
                    keys[cred["AccessKeyId"]] = cred["SecretAccessKey"]
                    tokens[cred["AccessKeyId"]] = cred["SessionToken"]

def error(code, message):
    body = json.dumps({"__type": "com.amazon.coral.service#" + code,
                       "message": message}).encode()
    return 400, body


def verify(method, path, headers, body):
    auth = parse_authorization(headers.get("authorization"))
    if not auth:
        return error("IncompleteSignatureException",
                     "Authorization header requires Credential, SignedHeaders and Signature.")
    if auth.akid not in keys:
        learn_issued()
    if auth.akid not in keys:
        return error("UnrecognizedClientException",
                     "The security token included in the request is invalid.")
    if auth.akid in tokens and (
            headers.get("x-amz-security-token") != tokens[auth.akid]
            or "x-amz-security-token" not in auth.signed):
        return error("UnrecognizedClientException",
                     "The security token included in the request is invalid.")
    if not signature_matches(auth, method, path, headers, body,
                             keys[auth.akid], tokens.get(auth.akid)):
        return error("InvalidSignatureException",
                     "The request signature we calculated does not match the "
                     "signature you provided. Check your AWS Secret Access Key "
                     "and signing method.")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        bad = verify("POST", self.path, headers, body)
        code = None
        if bad:
            status, out, extra = bad[0], bad[1], {}
            code = json.loads(out)["__type"].split("#")[-1]
        else:
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            fwd = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn.request("POST", self.path, body=body, headers=fwd)
            resp = conn.getresponse()
            status, out = resp.status, resp.read()
            extra = {k: v for k, v in resp.getheaders()
                     if k.lower() in ("x-amzn-requestid", "x-amz-crc32", "content-type")}
            conn.close()
        if request_log:
            auth = parse_authorization(headers.get("authorization"))
            line = json.dumps({"akid": auth.akid if auth else None,
                               "op": headers.get("x-amz-target", "").split(".")[-1],
                               "status": status, "code": code})
            with log_lock, open(request_log, "a") as f:
                f.write(line + "\n")
        self.send_response(status)
        extra.setdefault("Content-Type", "application/x-amz-json-1.0")
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
