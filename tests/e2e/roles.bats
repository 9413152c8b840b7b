#!/usr/bin/env bats
# roles.bats - profiles that assume roles (from a base profile, a chain of
# roles, the environment) and web identity: dynamofs gets the role's keys from
# tests/tools/fakests.py and signs DynamoDB requests with them, through a
# signature-checking proxy that knows only the keys the fake issued (so a
# request signed with the base keys fails the test) and logs which key signed
# each request. Expiry is driven with the mount's test clock and fakests'
# control file, never by waiting.

load helpers

ROLE=arn:aws:iam::123456789012:role/dev
R1=arn:aws:iam::123456789012:role/mid
R2=arn:aws:iam::123456789012:role/top
WEBROLE=arn:aws:iam::123456789012:role/web

setup() {
	clean_aws_env
	STS_PID= CTR_PID=
	start_sts
}

teardown() {
	cleanup_mount
	stop_proxy
	local pid
	for pid in "${STS_PID:-}" "${CTR_PID:-}"; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# Starts fakests.py (it accepts the base keys and the token eyJ.e2e), writes
# the profiles and the token file and starts the proxy, which accepts only
# what the fake issues; sets STS_LOG, STS_CTL (fakests' control file),
# PROXY_LOG, AWS_ENDPOINT_URL_STS and PROXY_URL.
start_sts() {
	local dir=$BATS_TEST_TMPDIR i
	STS_CTL=$dir/sts.ctl
	printf '{"region": "us-east-1", "keys": {"AKIDBASE": "base-secret-not-real"}, "deny": ["arn:aws:iam::123456789012:role/nope"], "web_identity_token": "eyJ.e2e", "control": "%s"}' "$STS_CTL" >"$dir/sts.json"
	STS_LOG=$dir/sts.jsonl
	: >"$STS_LOG"
	start_fake sts "$PY" "$DYNAMOFS_ROOT/tests/tools/fakests.py" "$dir/sts.json" "$STS_LOG"
	STS_PID=$FAKE_PID
	[ -n "$FAKE_PORT" ] || return 1
	export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$FAKE_PORT"
	cat >"$HOME/.aws/credentials" <<EOT
[base]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
EOT
	cat >"$HOME/.aws/config" <<EOT
[profile dev]
role_arn = $ROLE
source_profile = base
role_session_name = e2e
[profile denied]
role_arn = arn:aws:iam::123456789012:role/nope
source_profile = base
[profile mid]
role_arn = $R1
source_profile = base
[profile top]
role_arn = $R2
source_profile = mid
role_session_name = e2e
[profile envrole]
role_arn = $ROLE
credential_source = Environment
[profile web]
role_arn = $WEBROLE
web_identity_token_file = $HOME/token
role_session_name = webe2e
EOT
	printf 'eyJ.e2e' >"$HOME/token"
	printf '{}' >"$dir/keys.json"
	PROXY_LOG=$dir/proxy.jsonl
	: >"$PROXY_LOG"
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/sigcheck_proxy.py" \
		"$DYNAMOFS_ENDPOINT" "$dir/keys.json" --request-log="$PROXY_LOG" "$STS_LOG"
}

# One line per STS request: action, status, role, session name, and the
# access key id that signed it ("-" when unsigned).
sts_calls() {
	jq -r '[.action, .status, .params.RoleArn, .params.RoleSessionName,
		((.headers.authorization // "") | capture("Credential=(?<k>[^/]+)/").k // "-")] | @tsv' "$STS_LOG"
}

# The access key id fakests issued in its Nth answer (from 1).
issued_key() {
	jq -rs ".[$(($1 - 1))].issued.AccessKeyId" "$STS_LOG"
}

# The distinct "key<TAB>status" of the DynamoDB requests the proxy got
# after line $1 of its log (default: all).
proxy_signers() {
	tail -n +"$((${1:-0} + 1))" "$PROXY_LOG" | jq -r '[.akid, .status] | @tsv' | sort -u
}

# ddbtool straight at the server (which checks no signature), with dummy keys.
ddb() {
	AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-secret-not-real \
		ddbtool "$@"
}

@test "--profile dev: mounted with the role's keys; ls, cat and a write work" {
	T=$(uniq_table roles)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=dev
	run ls "$MNT"
	assert_success
	assert_line "$T"
	run jq -c . "$MNT/$T/a.json"
	assert_success
	assert_output '{"id":"a","v":1}'
	printf '{"id": "b", "v": 2}\n' >"$MNT/$T/b.json"
	unmount_fs
	run ddb get "$T" '{"id":{"S":"b"}}'
	assert_output '{"id":{"S":"b"},"v":{"N":"2"}}'
	# one AssumeRole, signed by the base keys, for the role and session
	run jq -r '[.action, .status, .params.RoleArn, .params.RoleSessionName] | @tsv' "$STS_LOG"
	assert_output "$(printf 'AssumeRole\t200\t%s\te2e' "$ROLE")"
}

@test "the base keys alone are refused by the proxy" {
	export AWS_ACCESS_KEY_ID=AKIDBASE AWS_SECRET_ACCESS_KEY=base-secret-not-real
	run --separate-stderr timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL"
	assert_failure 1
	[[ "$stderr" == *UnrecognizedClientException* ]]
}

@test "--check names the role and its source, never a secret" {
	run timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL" --profile dev
	assert_success
	assert_line "credentials: role $ROLE (profile \"dev\") via profile \"base\" in $HOME/.aws/credentials"
	assert_line --regexp '^ListTables: +OK'
	refute_output --partial base-secret
	refute_output --partial SEKRIT
	refute_output --partial "$(jq -r .issued.SessionToken "$STS_LOG")"
	refute_output --partial "$(jq -r .issued.AccessKeyId "$STS_LOG")"
}

@test "AccessDenied: one line, exit 1, nothing mounted" {
	mkdir -p "$BATS_TEST_TMPDIR/mnt"
	run --separate-stderr timeout 30 "$DYNAMOFS" "$PROXY_URL" "$BATS_TEST_TMPDIR/mnt" -o profile=denied
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: profile \"denied\": STS AssumeRole of role arn:aws:iam::123456789012:role/nope refused: AccessDenied: "* ]]
	[[ "$stderr" != *base-secret* ]]
	run mountpoint -q "$BATS_TEST_TMPDIR/mnt"
	assert_failure
}

# Rows 1-7 of docs/CONFIGURATION.md's table against each other (row 8,
# instance metadata, is disabled in every test, so that no test reaches
# 169.254.169.254).
@test "each row of the precedence table picks what botocore picks" {
	local dir=$BATS_TEST_TMPDIR i env_keys="AWS_ACCESS_KEY_ID=AKIDBASE AWS_SECRET_ACCESS_KEY=base-secret-not-real"
	local env_web="AWS_WEB_IDENTITY_TOKEN_FILE=$HOME/token AWS_ROLE_ARN=$WEBROLE"
	# a container credentials endpoint (fakehttp.py serves until killed)
	printf '[{"method": "GET", "path": "/creds", "status": 200, "body": {"AccessKeyId": "AKIDBASE", "SecretAccessKey": "base-secret-not-real", "Token": "tok", "Expiration": "%s"}}]' \
		"$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)" >"$dir/ctr.json"
	start_fake ctr "$PY" "$DYNAMOFS_ROOT/tests/tools/fakehttp.py" "$dir/ctr.json" "$dir/ctr.jsonl"
	CTR_PID=$FAKE_PID
	[ -n "$FAKE_PORT" ]
	local env_ctr="AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$FAKE_PORT/creds"
	printf '#!/bin/sh\nprintf %s\n' \
		"'{\"Version\": 1, \"AccessKeyId\": \"AKIDBASE\", \"SecretAccessKey\": \"base-secret-not-real\"}'" >"$HOME/proc.sh"
	chmod +x "$HOME/proc.sh"
	cat >>"$HOME/.aws/credentials" <<EOT
[keysrole]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
[webkeys]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
[prockeys]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
EOT
	cat >>"$HOME/.aws/config" <<EOT
[profile keysrole]
role_arn = $ROLE
source_profile = base
[profile webkeys]
role_arn = $WEBROLE
web_identity_token_file = $HOME/token
[profile prockeys]
credential_process = $HOME/proc.sh
[profile proccfg]
credential_process = $HOME/proc.sh
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
[profile cfgkeys]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
EOT
	local rows=(
		# explicit profile | environment | expected method
		"dev||assume-role"
		"dev|$env_keys|assume-role"
		"|AWS_PROFILE=dev $env_keys|env"
		"|$env_keys $env_web|env"
		"|AWS_PROFILE=dev $env_web|assume-role"
		"|AWS_PROFILE=base $env_web|assume-role-with-web-identity"
		"keysrole||assume-role"
		"base||shared-credentials-file"
		"envrole|$env_keys|assume-role"
		"webkeys||assume-role-with-web-identity"
		"prockeys||shared-credentials-file"
		"proccfg||custom-process"
		"cfgkeys|$env_ctr|config-file"
		"|$env_ctr|container-role"
	)
	check_precedence_rows "${rows[@]}"
}

@test "a chain of two roles: R1 assumed with the base keys, R2 with R1's, DynamoDB signed with R2's; ls, cat and a write work" {
	T=$(uniq_table chain)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=top
	run ls "$MNT"
	assert_line "$T"
	run jq -c . "$MNT/$T/a.json"
	assert_output '{"id":"a","v":1}'
	printf '{"id": "b", "v": 2}\n' >"$MNT/$T/b.json"
	unmount_fs
	run ddb get "$T" '{"id":{"S":"b"}}'
	assert_output '{"id":{"S":"b"},"v":{"N":"2"}}'
	run sts_calls
	assert_line --index 0 --regexp "^AssumeRole	200	$R1	botocore-session-[0-9]+	AKIDBASE\$"
	assert_line --index 1 "$(printf 'AssumeRole\t200\t%s\te2e\t%s' "$R2" "$(issued_key 1)")"
	[ "${#lines[@]}" -eq 2 ]
	run proxy_signers
	assert_output "$(printf '%s\t200' "$(issued_key 2)")"
}

@test "credential_source = Environment: AssumeRole signed with the environment's keys" {
	export AWS_ACCESS_KEY_ID=AKIDBASE AWS_SECRET_ACCESS_KEY=base-secret-not-real
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=envrole
	run ls "$MNT"
	assert_success
	unmount_fs
	run sts_calls
	assert_output --regexp "^AssumeRole	200	$ROLE	botocore-session-[0-9]+	AKIDBASE\$"
	run proxy_signers
	assert_output "$(printf '%s\t200' "$(issued_key 1)")"
}

@test "web identity from the environment: the token file's content, unsigned, with AWS_ROLE_SESSION_NAME" {
	export AWS_WEB_IDENTITY_TOKEN_FILE=$HOME/token AWS_ROLE_ARN=$WEBROLE AWS_ROLE_SESSION_NAME=envsession
	MOUNT_SOURCE=$PROXY_URL mount_fs
	run ls "$MNT"
	assert_success
	unmount_fs
	run sts_calls
	assert_output "$(printf 'AssumeRoleWithWebIdentity\t200\t%s\tenvsession\t-' "$WEBROLE")"
	run jq -r '[.params.WebIdentityToken, (.headers | has("authorization"))] | @tsv' "$STS_LOG"
	assert_output "$(printf 'eyJ.e2e\tfalse')"
	run proxy_signers
	assert_output "$(printf '%s\t200' "$(issued_key 1)")"
}

@test "web identity from the profile: the token file is read again at the refresh before expiry" {
	T=$(uniq_table web)
	ddb create "$T" id:S
	export DYNAMOFS_TEST_CLOCK=1
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=web
	run ls "$MNT/$T"
	assert_success
	run sts_calls
	assert_output "$(printf 'AssumeRoleWithWebIdentity\t200\t%s\twebe2e\t-' "$WEBROLE")"
	# The token is rotated and fakests now takes only the new one; 100 s
	# before expiry (fakests' clock moved on as the mount's is) the next
	# request renews with it.
	printf 'eyJ.rotated' >"$HOME/token"
	printf '{"web_identity_token": "eyJ.rotated", "clock_offset": 3500}' >"$STS_CTL"
	setfattr -n user.dynamofs.test.advance_clock -v 3500 "$MNT"
	mark=$(wc -l <"$PROXY_LOG")
	run ls "$MNT/$T"
	assert_success
	unmount_fs
	run jq -r '[.action, .status, .params.WebIdentityToken, .params.RoleSessionName] | @tsv' "$STS_LOG"
	assert_line --index 1 "$(printf 'AssumeRoleWithWebIdentity\t200\teyJ.rotated\twebe2e')"
	[ "${#lines[@]}" -eq 2 ]
	run proxy_signers "$mark"
	assert_output "$(printf '%s\t200' "$(issued_key 2)")"
}

@test "credentials that near expiry are renewed from the chain's root without a remount; expired and not renewable, EACCES" {
	T=$(uniq_table expiry)
	ddb create "$T" id:S
	export DYNAMOFS_TEST_CLOCK=1
	MOUNT_SOURCE=$PROXY_URL mount_fs -o profile=top
	run ls "$MNT/$T"
	assert_success
	# 100 s before the 1 h expiry both roles are assumed again, R1 first
	printf '{"clock_offset": 3500}' >"$STS_CTL"
	setfattr -n user.dynamofs.test.advance_clock -v 3500 "$MNT"
	mark=$(wc -l <"$PROXY_LOG")
	run ls "$MNT/$T"
	assert_success
	run sts_calls
	[ "${#lines[@]}" -eq 4 ]
	assert_line --index 2 --regexp "^AssumeRole	200	$R1	botocore-session-[0-9]+	AKIDBASE\$"
	assert_line --index 3 "$(printf 'AssumeRole\t200\t%s\te2e\t%s' "$R2" "$(issued_key 3)")"
	run proxy_signers "$mark"
	assert_output "$(printf '%s\t200' "$(issued_key 4)")"
	# Past the new expiry with STS refusing R2 (R1 is renewed): the
	# request fails with EACCES before reaching DynamoDB.
	printf '{"clock_offset": 7200, "deny": ["%s"]}' "$R2" >"$STS_CTL"
	setfattr -n user.dynamofs.test.advance_clock -v 3700 "$MNT"
	mark=$(wc -l <"$PROXY_LOG")
	run ls "$MNT/$T"
	assert_failure
	assert_output --partial "Permission denied"
	run jq -r '[.params.RoleArn, .status, .code] | @tsv' "$STS_LOG"
	[ "${#lines[@]}" -eq 6 ]
	assert_line --index 4 "$(printf '%s\t200\t' "$R1")"
	assert_line --index 5 "$(printf '%s\t403\tAccessDenied' "$R2")"
	[ "$(wc -l <"$PROXY_LOG")" -eq "$mark" ]
	grep -E "^dynamofs: error: could not refresh credentials from role $R2 .*AccessDenied.*; they have expired" "$DLOG"
	EXPECT_LOG="could not refresh credentials|could not get credentials|DescribeTable failed" unmount_fs
}
