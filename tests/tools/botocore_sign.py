#!/usr/bin/python3
"""botocore_sign.py - signs a DynamoDB POST / request with botocore's own
SigV4Auth at a frozen time and prints the Authorization header value.

The reference half of the sigv4-botocore cross-check (tests/e2e): it takes the
same arguments as the C tool sigv4-sign and must print the same line.

    botocore_sign.py --access-key K --secret S [--token T] --region R \
        --time UNIX_SECONDS --target DynamoDB_20120810.X --host H \
        --body-file F

Nothing secret is printed on stderr.
"""
import argparse
import datetime
import sys
import types

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def freeze_clock(unix_seconds):
    """Makes botocore.auth see a fixed clock.

    SigV4Auth.add_auth() takes its timestamp from
    botocore.auth.datetime.datetime.utcnow() (older and current botocore) and
    overwrites request.context['timestamp'] with it, so setting the context
    is not enough: the module's view of `datetime` is replaced instead. now()
    is frozen too, in case a later botocore switches to
    datetime.datetime.now(datetime.timezone.utc)."""
    utc = datetime.timezone.utc
    fixed = datetime.datetime.fromtimestamp(unix_seconds, utc)

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):
            return fixed if tz is not None else fixed.replace(tzinfo=None)

    botocore.auth.datetime = types.SimpleNamespace(
        datetime=FrozenDatetime,
        timezone=datetime.timezone,
        timedelta=datetime.timedelta,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--access-key', required=True)
    p.add_argument('--secret', required=True)
    p.add_argument('--token')
    p.add_argument('--region', required=True)
    p.add_argument('--time', required=True, type=int)
    p.add_argument('--target', required=True)
    p.add_argument('--host', required=True)
    p.add_argument('--body-file', required=True)
    args = p.parse_args()

    with open(args.body_file, 'rb') as f:
        body = f.read()

    freeze_clock(args.time)
    creds = Credentials(args.access_key, args.secret, args.token)
    request = AWSRequest(
        method='POST',
        url='https://%s/' % args.host,
        data=body,
        headers={
            'Content-Type': 'application/x-amz-json-1.0',
            'Host': args.host,
            'X-Amz-Target': args.target,
        },
    )
    SigV4Auth(creds, 'dynamodb', args.region).add_auth(request)
    print(request.headers['Authorization'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
