#!/usr/bin/python3
"""fakesso.py - a fake IAM Identity Center portal and sso-oidc on 127.0.0.1
that checks what it receives, for the SSO unit tests.

Usage: fakesso.py STATE.json LOG.jsonl [--until-killed] (the command line of
fakehttp.py, so tests/unit/fakehttp.h starts it; --until-killed ignores stdin,
for bats, whose background jobs have /dev/null there). Binds 127.0.0.1 on a free port and prints
the port on the first line of stdout. STATE:
  {"account_id": "111122223333", "role_name": "ReadOnly",
   "tokens": ["the token aws sso login cached"],
   "client_id": "...", "client_secret": "...", "refresh_token": "...",
   "expires_in": 3600, "expiration_ms": 1999999999000 (or a list: the n-th
   credentials issued expire at the n-th entry, the last one repeating)}
- GET /federation/credentials?role_name=R&account_id=A (the portal's
  GetRoleCredentials) answers 200 with fresh credentials (accessKeyId
  ASIASSO<N>, secretAccessKey SEKRIT-sso-<N>, sessionToken tok-sso-<N>) only
  when x-amz-sso_bearer_token is one of "tokens" or a token this server
  issued, and role and account are STATE's; else 401 UnauthorizedException
  (bad token) or 403 ForbiddenException (other role or account).
- POST /token (sso-oidc CreateToken) answers only a JSON body with grantType
  refresh_token and STATE's clientId, clientSecret and refreshToken (the
  refresh token then rotates: issued-refresh-<N> is the only one accepted),
  issuing access token issued-token-<N>; else 400 invalid_grant (or
  invalid_client). Without "refresh_token" in STATE every refresh fails.
Every request is appended to LOG as one JSON line: method, path, headers,
body, and "outcome" (what the server decided, e.g. "credentials",
"refreshed", "bad token", "invalid_grant"); a "credentials" line also has
"issued" ({AccessKeyId, SecretAccessKey, SessionToken}, as fakests.py writes
it, so tests/tools/sigcheck_proxy.py can accept only those keys). Stops on SIGTERM or (without
--until-killed) when its parent closes stdin.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

state = json.load(open(sys.argv[1]))
log_path = sys.argv[2]
lock = threading.Lock()
valid_tokens = set(state.get("tokens", []))
counter = {"creds": 0, "tokens": 0}


def expiration_ms(n):
    """The expiration of the n-th credentials issued: STATE's expiration_ms,
    or its n-th entry when it is a list (the last one repeats)."""
    e = state.get("expiration_ms", 1999999999000)
    if isinstance(e, list):
        e = e[min(n, len(e)) - 1]
    return e


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, doc, headers=None):
        out = json.dumps(doc).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def record(self, body, outcome, issued=None):
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body, "outcome": outcome}
        if issued:
            # fakests.py's form, so sigcheck_proxy.py accepts these keys
            entry["issued"] = issued
        with open(log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        token = self.headers.get("x-amz-sso_bearer_token")
        with lock:
            if url.path != "/federation/credentials":
                outcome, status = "no such path", 404
            elif token not in valid_tokens:
                outcome, status = "bad token", 401
            elif (query.get("role_name") != [state["role_name"]] or
                  query.get("account_id") != [state["account_id"]] or
                  len(query) != 2):
                outcome, status = "bad role or account", 403
            else:
                counter["creds"] += 1
                outcome, status = "credentials", 200
            n = counter["creds"]
            issued = None
            if status == 200:
                issued = {"AccessKeyId": "ASIASSO%d" % n,
                          "SecretAccessKey": "SEKRIT-sso-%d" % n,
                          "SessionToken": "tok-sso-%d" % n}
            self.record("", outcome, issued)
        if status == 200:
            self.answer(200, {"roleCredentials": {
                "accessKeyId": issued["AccessKeyId"],
                "secretAccessKey": issued["SecretAccessKey"],
                "sessionToken": issued["SessionToken"],
                "expiration": expiration_ms(n)}})
        elif status == 401:
            self.answer(401, {"message": "Session token not found or invalid"},
                        {"x-amzn-ErrorType": "UnauthorizedException"})
        elif status == 403:
            self.answer(403, {"message": "No access"},
                        {"x-amzn-ErrorType": "ForbiddenException"})
        else:
            self.answer(404, {"message": outcome})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        with lock:
            if self.path != "/token":
                outcome, status = "no such path", 404
            elif (not isinstance(doc, dict) or
                  not self.headers.get("Content-Type", "").startswith(
                      "application/json")):
                outcome, status = "not JSON", 400
            elif (doc.get("clientId") != state.get("client_id") or
                  doc.get("clientSecret") != state.get("client_secret")):
                outcome, status = "invalid_client", 400
            elif (doc.get("grantType") != "refresh_token" or
                  "refresh_token" not in state or
                  doc.get("refreshToken") != state["refresh_token"]):
                outcome, status = "invalid_grant", 400
            else:
                counter["tokens"] += 1
                access = "issued-token-%d" % counter["tokens"]
                refresh = "issued-refresh-%d" % counter["tokens"]
                valid_tokens.add(access)
                state["refresh_token"] = refresh
                outcome, status = "refreshed", 200
            self.record(text, outcome)
        if status == 200:
            self.answer(200, {"accessToken": access, "tokenType": "Bearer",
                              "expiresIn": state.get("expires_in", 3600),
                              "refreshToken": refresh})
        else:
            self.answer(status, {"error": outcome})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    if sys.argv[3:] == ["--until-killed"]:
        threading.Event().wait()  # SIGTERM ends the process
    # Exit when the parent goes away (it holds our stdin open).
    sys.stdin.read()
    srv.shutdown()


if __name__ == "__main__":
    main()
