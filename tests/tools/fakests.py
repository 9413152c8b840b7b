#!/usr/bin/python3
"""fakests.py - a fake AWS STS (query API, XML answers) on 127.0.0.1 that
checks what it receives, for unit and end-to-end tests.

Usage: fakests.py CONFIG.json LOG.jsonl
Binds 127.0.0.1 on a free port, prints the port on the first line of stdout
and serves until its parent closes stdin (or SIGTERM).

CONFIG: {
  "region": "us-east-1",                  # the signing region it expects
  "keys": {"AKID": "secret" | {"secret": S, "token": T}},  # source keys
  "web_identity_token": "...",            # the token it expects, if any
  "deny": ["arn:aws:iam::1:role/x"],      # roles answered AccessDenied
  "mfa": {"ROLE_ARN": {"serial": S, "code": C}},  # roles that need MFA
  "external_id": {"ROLE_ARN": "id"},      # roles that need an ExternalId
  "fail_first": N,                        # answer N requests with HTTP 500
  "throttle_first": N,                    # then N with Throttling (400)
  "throttle_code": "Throttling",          # or another code for those N
  "account": "123456789012",
  "clock_offset": S,                      # seconds added to its clock for
                                          # Expiration (a test moved the
                                          # client's clock on by S)
  "control": "PATH"                       # a JSON object read again at
                                          # each request whose keys replace
                                          # the ones above but "keys" (a
                                          # missing or empty file: none), so
                                          # a test switches "deny",
                                          # "web_identity_token" or
                                          # "clock_offset" while it serves
}
AssumeRole must be signed with SigV4 for service "sts" and the region above
by a known key: the signature is recomputed with botocore (and a session token
must be the one issued with the key); AssumeRoleWithWebIdentity must be
unsigned and carry exactly the expected token. Each success issues fresh keys,
which then count as known source keys (so a chain of roles works) and are
written to LOG with the request: one JSON line per request with "action",
"params", "headers", "status", "code" and "issued" ({AccessKeyId,
SecretAccessKey, SessionToken, Expiration}), so a test can accept only them.
"""
import datetime
import json
import re
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from sigv4check import parse_authorization, signature_matches

config = json.load(open(sys.argv[1]))
log_path = sys.argv[2]
lock = threading.Lock()
keys = {}
for akid, v in config.get("keys", {}).items():
    keys[akid] = v if isinstance(v, dict) else {"secret": v}
counts = {"requests": 0}
NS = "https://sts.amazonaws.com/doc/2011-06-15/"
SESSION_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


class Refuse(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def verify_signature(method, path, headers, body, cfg):
    auth = parse_authorization(headers.get("authorization"))
    if not auth:
        raise Refuse(400, "IncompleteSignature",
                     "Request must contain a signature that conforms to AWS standards")
    if auth.akid not in keys:
        raise Refuse(403, "InvalidClientTokenId",
                     "The security token included in the request is invalid.")
    key = keys[auth.akid]
    if auth.service != "sts" or auth.region != cfg.get("region", "us-east-1"):
        raise Refuse(403, "SignatureDoesNotMatch",
                     "Credential should be scoped to a valid region and service sts.")
    for need in ("host", "x-amz-date"):
        if need not in auth.signed:
            raise Refuse(403, "SignatureDoesNotMatch", need + " is not signed")
    token = headers.get("x-amz-security-token")
    if key.get("token") != token:
        raise Refuse(403, "InvalidClientTokenId",
                     "The security token included in the request is invalid.")
    if token is not None and "x-amz-security-token" not in auth.signed:
        raise Refuse(403, "SignatureDoesNotMatch", "the token is not signed")
    if not signature_matches(auth, method, path, headers, body, key["secret"],
                             token):
        raise Refuse(403, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the "
                     "signature you provided. Check your AWS Secret Access Key "
                     "and signing method.")


def settings():
    """The config with the control file's keys over it."""
    path = config.get("control")
    if not path:
        return config
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return config
    if not text.strip():
        return config
    return dict(config, **json.loads(text))


def check_common(p, cfg):
    if p.get("Version") != "2011-06-15":
        raise Refuse(400, "InvalidParameterValue", "bad Version")
    role = p.get("RoleArn", "")
    if not role.startswith("arn:aws:iam::"):
        raise Refuse(400, "ValidationError", "RoleArn is not an ARN")
    if not SESSION_RE.match(p.get("RoleSessionName", "")):
        raise Refuse(400, "ValidationError",
                     "1 validation error detected: Value at 'roleSessionName' "
                     "failed to satisfy constraint")
    dur = p.get("DurationSeconds", "3600")
    if not dur.isdigit() or not 900 <= int(dur) <= 43200:
        raise Refuse(400, "ValidationError", "DurationSeconds out of range")
    if role in cfg.get("deny", []):
        raise Refuse(403, "AccessDenied",
                     "User: arn:aws:iam::%s:user/base is not authorized to "
                     "perform: sts:AssumeRole on resource: %s"
                     % (cfg.get("account", "123456789012"), role))
    return role, int(dur)


def issue(role, session, duration, cfg):
    now = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
           + datetime.timedelta(seconds=cfg.get("clock_offset", 0)))
    cred = {"AccessKeyId": "ASIA" + secrets.token_hex(8).upper(),
            "SecretAccessKey": "SEKRIT" + secrets.token_urlsafe(24),
            "SessionToken": "FwoG" + secrets.token_urlsafe(96),
            "Expiration": (now + datetime.timedelta(seconds=duration))
            .strftime("%Y-%m-%dT%H:%M:%SZ")}
    keys[cred["AccessKeyId"]] = {"secret": cred["SecretAccessKey"],
                                 "token": cred["SessionToken"]}
    name = role.split("/")[-1]
    arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (
        cfg.get("account", "123456789012"), name, session)
    return cred, arn


def answer(action, cred, arn):
    c = "".join("<%s>%s</%s>" % (k, escape(cred[k]), k)
                for k in ("AccessKeyId", "SecretAccessKey", "SessionToken",
                          "Expiration"))
    return ('<%sResponse xmlns="%s">\n  <%sResult>\n'
            '    <AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId>'
            '<Arn>%s</Arn></AssumedRoleUser>\n'
            '    <Credentials>%s</Credentials>\n  </%sResult>\n'
            '  <ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>\n'
            '</%sResponse>\n' % (action, NS, action, escape(arn), c, action,
                                 secrets.token_hex(8), action))


def error_xml(code, message):
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>Sender</Type>\n'
            '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
            '  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
            % (NS, escape(code), escape(message), secrets.token_hex(8)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        p = {k: v[0] for k, v in urllib.parse.parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        action = p.get("Action", "")
        entry = {"action": action, "params": p, "headers": headers,
                 "path": self.path}
        with lock:
            cfg = settings()
            counts["requests"] += 1
            k = counts["requests"]
            try:
                if k <= cfg.get("fail_first", 0):
                    raise Refuse(500, "InternalFailure", "try again")
                if k <= cfg.get("fail_first", 0) + cfg.get("throttle_first", 0):
                    raise Refuse(400, cfg.get("throttle_code", "Throttling"),
                                 "Rate exceeded")
                if not headers.get("content-type", "").startswith(
                        "application/x-www-form-urlencoded"):
                    raise Refuse(400, "InvalidAction", "not a form post")
                if action == "AssumeRole":
                    verify_signature("POST", self.path, headers, body, cfg)
                    role, dur = check_common(p, cfg)
                    mfa = cfg.get("mfa", {}).get(role)
                    if mfa and (p.get("SerialNumber") != mfa["serial"] or
                                p.get("TokenCode") != mfa["code"]):
                        raise Refuse(403, "AccessDenied",
                                     "MultiFactorAuthentication failed with "
                                     "invalid MFA one time pass code.")
                    ext = cfg.get("external_id", {}).get(role)
                    if ext is not None and p.get("ExternalId") != ext:
                        raise Refuse(403, "AccessDenied",
                                     "not authorized to perform: sts:AssumeRole")
                elif action == "AssumeRoleWithWebIdentity":
                    if "authorization" in headers:
                        raise Refuse(400, "InvalidAction",
                                     "AssumeRoleWithWebIdentity is not signed")
                    role, dur = check_common(p, cfg)
                    want = cfg.get("web_identity_token")
                    if want is None or p.get("WebIdentityToken") != want:
                        raise Refuse(400, "InvalidIdentityToken",
                                     "Couldn't retrieve verification key from "
                                     "your identity provider")
                else:
                    raise Refuse(400, "InvalidAction",
                                 "Could not find operation " + action)
                cred, arn = issue(role, p["RoleSessionName"], dur, cfg)
                status, out = 200, answer(action, cred, arn)
                entry["issued"] = cred
                entry["code"] = None
            except Refuse as r:
                status, out = r.status, error_xml(r.code, r.message)
                entry["code"] = r.code
            entry["status"] = status
            with open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
        data = out.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("x-amzn-RequestId", secrets.token_hex(8))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()
    srv.shutdown()


if __name__ == "__main__":
    main()
