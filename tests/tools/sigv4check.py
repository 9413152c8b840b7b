"""sigv4check.py - the SigV4 check the fake AWS servers share: botocore
recomputes a request's signature from its Authorization header.

Imported by fakests.py and sigcheck_proxy.py (they run from this folder, so
it is on their sys.path).
"""
import re

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


class Authorization:
    """The parts of an Authorization header: akid, date (YYYYMMDD), region,
    service, signed (the SignedHeaders names, a list) and signature."""

    def __init__(self, m):
        (self.akid, self.date, self.region, self.service, signed,
         self.signature) = m.groups()
        self.signed = signed.split(";")


def parse_authorization(value):
    """An Authorization for a well-formed header value, else None."""
    m = AUTH_RE.match(value or "")
    return Authorization(m) if m else None


def signature_matches(auth, method, path, headers, body, secret, token):
    """Whether botocore signs the request (headers: lower-case names) with
    auth's key, secret and token to auth's signature, on auth's date."""
    req = AWSRequest(method=method,
                     url="http://" + headers.get("host", "") + path,
                     data=body,
                     headers={n: headers.get(n, "") for n in auth.signed})
    req.context["timestamp"] = headers.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(auth.akid, secret, token), auth.service,
                       auth.region)
    sts = signer.string_to_sign(req, signer.canonical_request(req))
    return (signer.signature(sts, req) == auth.signature and
            auth.date == req.context["timestamp"][:8])
