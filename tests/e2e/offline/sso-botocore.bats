#!/usr/bin/env bats
# sso-botocore.bats - dynamofs's SSO client (sso-fetch) and botocore resolve
# the same SSO profiles against the same fake portal and OIDC (fakesso.py):
# same credentials, same requests, same cache file afterwards.

load ../helpers

setup() {
	ROOT=${DYNAMOFS_ROOT:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
	C_FETCH="$DYNAMOFS_BUILD/tests/sso-fetch"
	BOTO="$ROOT/tests/tools/sso_botocore.py"
	FAKE="$ROOT/tests/tools/fakesso.py"
	[ -x "$C_FETCH" ] || fail "not built: $C_FETCH"
	STATE='{"account_id": "111122223333", "role_name": "ReadOnly",
		"tokens": ["cached-token"], "client_id": "client-1",
		"client_secret": "csecret", "refresh_token": "refresh-0",
		"expires_in": 3600}'
	unset AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
		AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SSO AWS_ENDPOINT_URL_SSO_OIDC
}

teardown() {
	stop_proxy
}

# A HOME for tool $1 (c or boto) with the config file and, when $2 is not
# empty, the cache file text $2 for the session "corp" ($3: "legacy" names
# it by the start URL instead).
make_home() {
	local h="$BATS_TEST_TMPDIR/$1" name=ee0bfd2552fbd840c02cc48b6e823320543c450f
	[ "${3:-}" = legacy ] && name=40a89917e3175433e361b710a9d43528d7f1890a
	mkdir -p "$h/.aws/sso/cache"
	cat >"$h/.aws/config" <<-'EOF'
		[profile dev]
		sso_session = corp
		sso_account_id = 111122223333
		sso_role_name = ReadOnly
		region = us-east-1
		[sso-session corp]
		sso_start_url = https://corp.awsapps.com/start
		sso_region = eu-west-1
		[profile old]
		sso_start_url = https://d-abc123.awsapps.com/start
		sso_region = eu-west-1
		sso_account_id = 111122223333
		sso_role_name = ReadOnly
		region = us-east-1
	EOF
	CACHE="$h/.aws/sso/cache/$name.json"
	[ -n "$2" ] && printf '%s' "$2" >"$CACHE"
	return 0
}

# Runs tool $1 (c or boto) for profile $2 against a fresh fake; sets
# OUT_<tool> and RC_<tool> and leaves the fake's log in
# $BATS_TEST_TMPDIR/<tool>.log.
resolve() {
	local tool=$1 profile=$2 h="$BATS_TEST_TMPDIR/$1" out rc
	printf '%s' "$STATE" >"$BATS_TEST_TMPDIR/$tool.state"
	start_proxy /usr/bin/python3 "$FAKE" "$BATS_TEST_TMPDIR/$tool.state" \
		"$BATS_TEST_TMPDIR/$tool.log" --until-killed
	if [ "$tool" = c ]; then
		out=$(HOME=$h AWS_ENDPOINT_URL_SSO=$PROXY_URL \
			AWS_ENDPOINT_URL_SSO_OIDC=$PROXY_URL "$C_FETCH" "$profile") &&
			rc=0 || rc=$?
	else
		out=$(HOME=$h FAKESSO_URL=$PROXY_URL /usr/bin/python3 "$BOTO" \
			"$profile") && rc=0 || rc=$?
	fi
	stop_proxy
	printf -v "OUT_$tool" '%s' "$out"
	printf -v "RC_$tool" '%s' "$rc"
}

# The fake's log reduced to what the client sent: method, path, bearer,
# JSON body (parsed) and the fake's decision, one line each.
requests() {
	/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    body = json.loads(e["body"]) if e["body"] else None
    print(json.dumps([e["method"], e["path"],
                      e["headers"].get("x-amz-sso_bearer_token"),
                      body, e["outcome"]], sort_keys=True))
' "$BATS_TEST_TMPDIR/$1.log" 2>/dev/null || true
}

# The cache file of tool $1 without expiresAt (a time each tool computes).
cache_doc() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d.pop("expiresAt")
print(json.dumps(d, sort_keys=True))
' "$BATS_TEST_TMPDIR/$1/.aws/sso/cache/$2.json"
}

iso() {
	date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ
}

@test "sso: valid cached token: same credentials and request as botocore" {
	local doc
	doc="{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"eu-west-1\", \"accessToken\": \"cached-token\", \"expiresAt\": \"$(iso '+2 hours')\"}"
	make_home c "$doc"
	make_home boto "$doc"
	resolve c dev
	resolve boto dev
	assert_equal "$RC_c $RC_boto" "0 0"
	assert_equal "$OUT_c" "ASIASSO1 1999999999"
	assert_equal "$OUT_boto" "$OUT_c"
	assert_equal "$(requests c)" "$(requests boto)"
	[[ $(requests c) == *'"cached-token"'*'"credentials"'* ]] ||
		fail "portal not called with the cached token: $(requests c)"
}

@test "sso: legacy profile: same credentials and request as botocore" {
	local doc
	doc="{\"accessToken\": \"cached-token\", \"expiresAt\": \"$(iso '+2 hours')\"}"
	make_home c "$doc" legacy
	make_home boto "$doc" legacy
	resolve c old
	resolve boto old
	assert_equal "$RC_c $RC_boto" "0 0"
	assert_equal "$OUT_c" "ASIASSO1 1999999999"
	assert_equal "$OUT_boto" "$OUT_c"
	assert_equal "$(requests c)" "$(requests boto)"
}

@test "sso: expired token refreshed: same CreateToken and cache file as botocore" {
	local doc
	doc="{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"eu-west-1\", \"accessToken\": \"old-token\", \"expiresAt\": \"$(iso '-1 hour')\", \"refreshToken\": \"refresh-0\", \"clientId\": \"client-1\", \"clientSecret\": \"csecret\", \"registrationExpiresAt\": \"$(iso '+30 days')\"}"
	make_home c "$doc"
	make_home boto "$doc"
	resolve c dev
	resolve boto dev
	assert_equal "$RC_c $RC_boto" "0 0"
	assert_equal "$OUT_c" "ASIASSO1 1999999999"
	assert_equal "$OUT_boto" "$OUT_c"
	assert_equal "$(requests c)" "$(requests boto)"
	[[ $(requests c) == *'"refreshed"'*'"issued-token-1"'* ]] ||
		fail "no refresh, or the portal did not get the new token: $(requests c)"
	local name=ee0bfd2552fbd840c02cc48b6e823320543c450f
	assert_equal "$(cache_doc c $name)" "$(cache_doc boto $name)"
	[[ $(cache_doc c $name) == *'"accessToken": "issued-token-1"'* ]] ||
		fail "cache not rewritten: $(cache_doc c $name)"
	assert_equal "$(stat -c %a "$BATS_TEST_TMPDIR/c/.aws/sso/cache/$name.json")" 600
}

@test "sso: expired token without a refresh token: both refuse, no request" {
	local doc
	doc="{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"eu-west-1\", \"accessToken\": \"cached-token\", \"expiresAt\": \"$(iso '-1 hour')\"}"
	make_home c "$doc"
	make_home boto "$doc"
	resolve c dev
	resolve boto dev
	assert_equal "$RC_c $RC_boto" "1 1"
	[[ $OUT_boto == "error: "* ]] || fail "botocore: $OUT_boto"
	assert_equal "$OUT_c" 'error: SSO session "corp": the cached token has expired; run: aws sso login --profile dev'
	assert_equal "$(requests c)" ""
	assert_equal "$(requests boto)" ""
}
