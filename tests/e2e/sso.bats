#!/usr/bin/env bats
# sso.bats - IAM Identity Center profiles in the chain: dynamofs takes the
# token `aws sso login` cached, gets role credentials from a fake portal and
# sso-oidc (tests/tools/fakesso.py) and signs DynamoDB requests with them,
# through a proxy that knows only the keys the fakes issued.

load helpers

SESSION_CACHE=ee0bfd2552fbd840c02cc48b6e823320543c450f # sha1("corp")

setup() {
	clean_aws_env
	SSO_PID=
	STS_PID=
	start_sso
}

teardown() {
	cleanup_mount
	stop_proxy
	local pid
	for pid in "${SSO_PID:-}" "${STS_PID:-}"; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# The cache file text for token $1 expiring at ISO time $2, with the refresh
# fields when $3 is "refresh".
cache_text() {
	if [ "${3:-}" = refresh ]; then
		printf '{"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": "%s", "expiresAt": "%s", "clientId": "client-1", "clientSecret": "csecret", "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": "refresh-0"}' "$1" "$2"
	else
		printf '{"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": "%s", "expiresAt": "%s"}' "$1" "$2"
	fi
}

# Starts fakesso.py (portal and OIDC on one port), writes the profiles and a valid cached token for session "corp",
# and starts the signature-checking proxy; sets SSO_LOG, CACHE, PROXY_URL.
start_sso() {
	local dir=$BATS_TEST_TMPDIR now
	now=$(date +%s)
	# the first role keys last an hour, the next ones four
	printf '{"account_id": "111122223333", "role_name": "ReadOnly", "tokens": ["cached-token"], "client_id": "client-1", "client_secret": "csecret", "refresh_token": "refresh-0", "expires_in": 28800, "expiration_ms": [%s, %s]}' \
		"$(((now + 3600) * 1000))" "$(((now + 4 * 3600) * 1000))" >"$dir/sso.state"
	SSO_LOG=$dir/sso.jsonl
	: >"$SSO_LOG"
	start_fake sso "$PY" "$DYNAMOFS_ROOT/tests/tools/fakesso.py" "$dir/sso.state" "$SSO_LOG" --until-killed
	SSO_PID=$FAKE_PID
	[ -n "$FAKE_PORT" ] || return 1
	export AWS_ENDPOINT_URL_SSO="http://127.0.0.1:$FAKE_PORT"
	export AWS_ENDPOINT_URL_SSO_OIDC="http://127.0.0.1:$FAKE_PORT"
	cat >"$HOME/.aws/config" <<-EOT
		[profile dev]
		sso_session = corp
		sso_account_id = 111122223333
		sso_role_name = ReadOnly
		region = us-east-1
		[sso-session corp]
		sso_start_url = https://corp.awsapps.com/start
		sso_region = eu-west-1
		[profile old]
		sso_start_url = https://corp.awsapps.com/start
		sso_region = eu-west-1
		sso_account_id = 111122223333
		sso_role_name = ReadOnly
		region = us-east-1
		[profile viarole]
		role_arn = arn:aws:iam::123456789012:role/fromsso
		source_profile = dev
		role_session_name = e2e
		region = us-east-1
	EOT
	mkdir -p "$HOME/.aws/sso/cache"
	CACHE="$HOME/.aws/sso/cache/$SESSION_CACHE.json"
	cache_text cached-token "$(date -u -d '+8 hours' +%Y-%m-%dT%H:%M:%SZ)" >"$CACHE"
	printf '{}' >"$dir/keys.json"
	: >"$dir/sts.jsonl"
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/sigcheck_proxy.py" \
		"$DYNAMOFS_ENDPOINT" "$dir/keys.json" --request-log="$dir/proxy.jsonl" \
		"$SSO_LOG" "$dir/sts.jsonl"
}

# ddbtool straight at the server (which checks no signature), with dummy keys.
ddb() {
	AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-secret-not-real \
		ddbtool "$@"
}

# The outcomes fakesso logged, one per line.
sso_outcomes() {
	jq -r .outcome "$SSO_LOG"
}

@test "SSO session profile: mounted with the portal's role keys; ls, cat and a write work" {
	T=$(uniq_table sso)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=dev
	run ls "$MNT"
	assert_success
	assert_line "$T"
	run jq -c . "$MNT/$T/a.json"
	assert_success
	assert_output '{"id":"a","v":1}'
	printf '{"id":"b","v":2}\n' >"$MNT/$T/b.json"
	run ddb get "$T" '{"id":{"S":"b"}}'
	assert_output --partial '"v":{"N":"2"}'
	# the bearer token was the cached one, and only one call was needed
	run jq -r '.headers["x-amz-sso_bearer_token"]' "$SSO_LOG"
	assert_output cached-token
	run sso_outcomes
	assert_output credentials
	unmount_fs
}

@test "--check names the SSO session, account and role, never a token or key" {
	run timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL" --profile dev
	assert_success
	assert_line --regexp '^credentials: SSO session "corp" \(profile "dev"\), account 111122223333, role ReadOnly, token cached until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z$'
	assert_line --regexp '^ListTables: +OK'
	refute_output --partial cached-token
	refute_output --partial SEKRIT
	refute_output --partial tok-sso
	refute_output --partial ASIASSO
}

@test "legacy SSO profile (sso_start_url in the profile): the cache named by the start URL" {
	local name
	name=$(printf %s https://corp.awsapps.com/start | sha1sum | cut -c1-40)
	mv "$CACHE" "$HOME/.aws/sso/cache/$name.json"
	run timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL" --profile old
	assert_success
	assert_line --regexp '^credentials: SSO start URL https://corp.awsapps.com/start \(profile "old"\), account 111122223333, role ReadOnly'
	assert_line --regexp '^ListTables: +OK'
}

@test "an expired token with a refresh token: refreshed through sso-oidc, the cache file rewritten 0600" {
	cache_text stale-token 2020-01-01T00:00:00Z refresh >"$CACHE"
	T=$(uniq_table sso)
	ddb create "$T" id:S
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=dev
	run ls "$MNT"
	assert_success
	assert_line "$T"
	run sso_outcomes
	assert_output $'refreshed\ncredentials'
	run jq -r '.headers["x-amz-sso_bearer_token"] // empty' "$SSO_LOG"
	assert_output issued-token-1
	run jq -r '.accessToken, .refreshToken, .clientId, .startUrl' "$CACHE"
	assert_output $'issued-token-1\nissued-refresh-1\nclient-1\nhttps://corp.awsapps.com/start'
	run stat -c %a "$CACHE"
	assert_output 600
	unmount_fs
}

@test "an expired token without a refresh token: one line saying to run aws sso login, exit 1" {
	cache_text stale-token 2020-01-01T00:00:00Z >"$CACHE"
	cp "$CACHE" "$BATS_TEST_TMPDIR/before.json"
	mkdir -p "$BATS_TEST_TMPDIR/mnt"
	run --separate-stderr timeout 30 "$DYNAMOFS" "$PROXY_URL" "$BATS_TEST_TMPDIR/mnt" -o profile=dev
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"run: aws sso login --profile dev"* ]]
	[[ "$stderr" != *stale-token* ]]
	run mountpoint -q "$BATS_TEST_TMPDIR/mnt"
	assert_failure
	# nothing was sent, and the cache is as it was
	[ ! -s "$SSO_LOG" ]
	cmp "$CACHE" "$BATS_TEST_TMPDIR/before.json"
}

@test "a role whose source_profile is an SSO profile: AssumeRole signed with the portal's keys" {
	local dir=$BATS_TEST_TMPDIR i
	# fakests knows the keys fakesso issues first
	printf '{"region": "us-east-1", "keys": {"ASIASSO1": {"secret": "SEKRIT-sso-1", "token": "tok-sso-1"}}}' >"$dir/sts.json"
	start_fake sts "$PY" "$DYNAMOFS_ROOT/tests/tools/fakests.py" "$dir/sts.json" "$dir/sts.jsonl"
	STS_PID=$FAKE_PID
	[ -n "$FAKE_PORT" ]
	export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$FAKE_PORT"
	run timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL" --profile viarole
	assert_success
	assert_line 'credentials: role arn:aws:iam::123456789012:role/fromsso (profile "viarole") via SSO session "corp" (profile "dev"), account 111122223333, role ReadOnly, token cached until '"$(jq -r .expiresAt "$CACHE" | cut -c1-16)Z"
	assert_line --regexp '^ListTables: +OK'
	run jq -r '.headers.authorization' "$dir/sts.jsonl"
	assert_output --partial 'Credential=ASIASSO1/'
}

@test "SSO role credentials that expire during the mount are renewed from the cached token, without a remount" {
	T=$(uniq_table sso)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"}}'
	DYNAMOFS_TEST_CLOCK=1 MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=dev
	run cat "$MNT/$T/a.json"
	assert_success
	run sso_outcomes
	assert_output credentials
	# 58 minutes on: the role keys expire within 5 minutes, so the next
	# request fetches new ones first (the token is good for 8 hours)
	setfattr -n user.dynamofs.test.advance_clock -v 3480 "$MNT"
	run ls "$MNT/$T"
	assert_success
	run sso_outcomes
	assert_output $'credentials\ncredentials'
	grep -q 'refreshed credentials from SSO session "corp"' "$DLOG"
	# past the old keys' expiry: still served, with the new ones
	setfattr -n user.dynamofs.test.advance_clock -v 600 "$MNT"
	run cat "$MNT/$T/a.json"
	assert_success
	unmount_fs
	# every request before the refresh was signed with the first keys, and
	# every one after it with the second (the proxy accepts only these)
	run jq -r '"\(.akid) \(.status)"' "$BATS_TEST_TMPDIR/proxy.jsonl"
	assert_line --index 0 "ASIASSO1 200"
	assert_line --index $((${#lines[@]} - 1)) "ASIASSO2 200"
	refute_output --regexp ' [^2][0-9][0-9]$'
	! jq -r .akid "$BATS_TEST_TMPDIR/proxy.jsonl" | uniq | sed -n 3p | grep -q .
}

@test "the SSO rows of the precedence table pick what botocore picks" {
	local env_keys="AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-secret-not-real"
	# SSO settings beside keys: SSO comes first, as botocore's SSOProvider
	# comes before the shared credentials file
	cat >"$HOME/.aws/credentials" <<-EOT
		[both]
		aws_access_key_id = AKIDLOCALTEST
		aws_secret_access_key = local-secret-not-real
	EOT
	cat >>"$HOME/.aws/config" <<-EOT
		[profile both]
		sso_session = corp
		sso_account_id = 111122223333
		sso_role_name = ReadOnly
		[profile loginonly]
		sso_session = corp
		aws_access_key_id = AKIDLOCALTEST
		aws_secret_access_key = local-secret-not-real
	EOT
	local rows=(
		# explicit profile | environment | expected method
		"dev||sso"
		"old||sso"
		"dev|$env_keys|sso"
		"|AWS_PROFILE=dev $env_keys|env"
		"|AWS_PROFILE=dev|sso"
		"both||sso"
		"loginonly||config-file"
	)
	mv "$CACHE" "$BATS_TEST_TMPDIR/corp.json"
	# the legacy profile's cache, and the session's
	cp "$BATS_TEST_TMPDIR/corp.json" "$HOME/.aws/sso/cache/$(printf %s https://corp.awsapps.com/start | sha1sum | cut -c1-40).json"
	cp "$BATS_TEST_TMPDIR/corp.json" "$CACHE"
	DYNAMOFS_ENDPOINT=$PROXY_URL check_precedence_rows "${rows[@]}"
}
