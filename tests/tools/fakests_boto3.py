#!/usr/bin/python3
"""fakests_boto3.py - checks fakests.py against the real SDK: boto3's STS
client, pointed at the fake, gets keys for AssumeRole (signed by botocore)
and AssumeRoleWithWebIdentity, and the fake refuses what STS would refuse.
So the fake that test_sts.c relies on agrees with botocore, not only with
our client. Prints one line per check; exits 1 on the first failure.

usage: fakests_boto3.py (starts and stops tools/fakests.py itself)
"""
import json
import os
import subprocess
import sys
import tempfile

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = "arn:aws:iam::123456789012:role/dev"


def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond:
        sys.exit(1)


def client(port, akid, secret, token=None):
    return boto3.client("sts", region_name="eu-west-1",
                        endpoint_url="http://127.0.0.1:%d" % port,
                        aws_access_key_id=akid, aws_secret_access_key=secret,
                        aws_session_token=token)


def code_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def main():
    tmp = tempfile.mkdtemp(prefix="fakests_boto3.")
    cfg, log = os.path.join(tmp, "config.json"), os.path.join(tmp, "log.jsonl")
    json.dump({"region": "eu-west-1", "keys": {"AKIABASE": "SEKRITbase"},
               "web_identity_token": "eyJ.tok",
               "mfa": {ROLE + "-mfa": {"serial": "arn:aws:iam::123456789012:mfa/me",
                                       "code": "123456"}}}, open(cfg, "w"))
    fake = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "fakests.py"),
                             cfg, log], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        port = int(fake.stdout.readline())
        sts = client(port, "AKIABASE", "SEKRITbase")
        got = sts.assume_role(RoleArn=ROLE, RoleSessionName="s1",
                              DurationSeconds=900)["Credentials"]
        issued = [json.loads(line) for line in open(log)][-1]["issued"]
        check(got["AccessKeyId"] == issued["AccessKeyId"] and
              got["SecretAccessKey"] == issued["SecretAccessKey"] and
              got["SessionToken"] == issued["SessionToken"],
              "boto3 AssumeRole gets the keys the fake issued")
        two = client(port, got["AccessKeyId"], got["SecretAccessKey"],
                     got["SessionToken"])
        check(two.assume_role(RoleArn=ROLE + "2", RoleSessionName="s2")
              ["Credentials"]["AccessKeyId"].startswith("ASIA"),
              "boto3 chains: the issued keys and token assume the next role")
        check(code_of(lambda: client(port, "AKIABASE", "SEKRITwrong")
                      .assume_role(RoleArn=ROLE, RoleSessionName="s0"))
              == "SignatureDoesNotMatch", "a wrong secret is refused")
        check(code_of(lambda: client(port, got["AccessKeyId"],
                                     got["SecretAccessKey"])
                      .assume_role(RoleArn=ROLE, RoleSessionName="s0"))
              == "InvalidClientTokenId", "issued keys without their token are refused")
        check(code_of(lambda: sts.assume_role(
            RoleArn=ROLE + "-mfa", RoleSessionName="s0",
            SerialNumber="arn:aws:iam::123456789012:mfa/me",
            TokenCode="123456")) is None, "MFA with the right code passes")
        check(code_of(lambda: sts.assume_role(
            RoleArn=ROLE + "-mfa", RoleSessionName="s0")) == "AccessDenied",
            "MFA role without a code is refused")
        anon = boto3.client("sts", region_name="eu-west-1",
                            endpoint_url="http://127.0.0.1:%d" % port,
                            config=Config(signature_version=UNSIGNED))
        wi = anon.assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="pod",
            WebIdentityToken="eyJ.tok")["Credentials"]
        check(wi["AccessKeyId"].startswith("ASIA"),
              "boto3 AssumeRoleWithWebIdentity gets keys")
        check(code_of(lambda: anon.assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="pod", WebIdentityToken="eyJ.other"))
              == "InvalidIdentityToken", "a wrong web identity token is refused")
    finally:
        fake.stdin.close()
        fake.terminate()
        fake.wait()
        for f in (cfg, log):
            if os.path.exists(f):
                os.unlink(f)
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
