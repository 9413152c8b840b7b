#!/usr/bin/python3
"""sso_botocore.py - resolves an SSO profile's credentials with botocore, for
the cross-check in tests/e2e/offline/sso-botocore.bats.

Usage: FAKESSO_URL=http://127.0.0.1:PORT sso_botocore.py PROFILE
Prints the access key id and the expiration (epoch seconds) on one line, or
"error: EXCEPTION-NAME" and exits 1; never the secret or token. Debian's
botocore predates AWS_ENDPOINT_URL_SSO, so the sso and sso-oidc clients are
pointed at FAKESSO_URL by wrapping ClientCreator.create_client (nothing else
of botocore's resolution is changed: files, cache, refresh are its own).
"""
import os
import sys

import botocore.session
from botocore import client as botocore_client

fake = os.environ["FAKESSO_URL"]
original = botocore_client.ClientCreator.create_client


def create_client(self, service_name, *args, **kwargs):
    if service_name in ("sso", "sso-oidc"):
        kwargs["endpoint_url"] = fake
    return original(self, service_name, *args, **kwargs)


botocore_client.ClientCreator.create_client = create_client


def main():
    session = botocore.session.Session(profile=sys.argv[1])
    try:
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials()
    except Exception as e:  # the class name is the answer
        print("error: %s" % type(e).__name__)
        return 1
    expiry = getattr(creds, "_expiry_time", None)
    print("%s %d" % (frozen.access_key, int(expiry.timestamp()) if expiry else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
