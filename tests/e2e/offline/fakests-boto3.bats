#!/usr/bin/env bats
# fakests-boto3.bats - the fake STS that test_sts.c relies on agrees with the
# real SDK: boto3 gets its keys and is refused where STS would refuse.

load ../helpers

setup() {
	clean_aws_env
	ROOT=${DYNAMOFS_ROOT:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
}

@test "boto3's STS client against fakests.py: AssumeRole, a chain, MFA, web identity, refusals" {
	run /usr/bin/python3 "$ROOT/tests/tools/fakests_boto3.py"
	assert_success
	assert_line "ok: boto3 AssumeRole gets the keys the fake issued"
	assert_line "ok: a wrong web identity token is refused"
	refute_output --partial FAILED
}
