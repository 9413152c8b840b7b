#!/usr/bin/env bats
# roles.bats - a profile that assumes a role from a base profile: dynamofs gets
# the role's keys from tests/tools/fakests.py and signs DynamoDB requests with
# them, through a signature-checking proxy that knows only the keys the fake
# issued (so a request signed with the base keys fails the test).

load helpers

ROLE=arn:aws:iam::123456789012:role/dev

setup() {
	clean_aws_env
	STS_PID=
	start_sts
}

teardown() {
	cleanup_mount
	stop_proxy
	if [ -n "${STS_PID:-}" ]; then
		kill "$STS_PID" 2>/dev/null
		wait "$STS_PID" 2>/dev/null
	fi
	return 0
}

# Starts fakests.py (it accepts the base keys), writes the profiles and
# starts the proxy, which accepts only what the fake issues; sets STS_LOG,
# AWS_ENDPOINT_URL_STS and PROXY_URL.
start_sts() {
	local dir=$BATS_TEST_TMPDIR i
	printf '{"region": "us-east-1", "keys": {"AKIDBASE": "base-secret-not-real"}, "deny": ["arn:aws:iam::123456789012:role/nope"], "web_identity_token": "eyJ.e2e"}' >"$dir/sts.json"
	STS_LOG=$dir/sts.jsonl
	: >"$STS_LOG"
	mkfifo "$dir/sts.in"
	# stdin is a fifo it holds open itself: it serves until killed
	"$PY" "$DYNAMOFS_ROOT/tests/tools/fakests.py" "$dir/sts.json" "$STS_LOG" \
		0<>"$dir/sts.in" >"$dir/sts.port" &
	STS_PID=$!
	for i in $(seq 1 100); do
		[ -s "$dir/sts.port" ] && break
		sleep 0.1
	done
	[ -s "$dir/sts.port" ] || { echo "fakests.py did not start" >&2; return 1; }
	export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$(head -1 "$dir/sts.port")"
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
EOT
	printf '{}' >"$dir/keys.json"
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/sigcheck_proxy.py" \
		"$DYNAMOFS_ENDPOINT" "$dir/keys.json" "$STS_LOG"
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

# The kind of source `dynamofs --check` reports, in botocore's method names.
dynamofs_method() {
	local line
	line=$(timeout 30 "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT" "$@" | sed -n 's/^credentials: //p')
	case $line in
	"role "*) echo assume-role ;;
	"web identity role "*) echo assume-role-with-web-identity ;;
	"environment "*) echo env ;;
	"profile "*" in $HOME/.aws/credentials") echo shared-credentials-file ;;
	"profile "*" in $HOME/.aws/config") echo config-file ;;
	"credential_process "*) echo custom-process ;;
	*) echo "unknown: $line" ;;
	esac
}

# The method botocore's resolver picks (no call is made: role credentials
# are fetched lazily); $1 is the explicit profile or "".
botocore_method() {
	"$PY" -c 'import sys, boto3
c = boto3.Session(profile_name=sys.argv[1] or None, region_name="us-east-1").get_credentials()
print(c.method if c else "none")' "$1"
}

@test "each row of the precedence table picks what botocore picks" {
	printf 'eyJ.e2e' >"$HOME/token"
	cat >>"$HOME/.aws/credentials" <<EOT
[keysrole]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
[webkeys]
aws_access_key_id = AKIDBASE
aws_secret_access_key = base-secret-not-real
EOT
	cat >>"$HOME/.aws/config" <<EOT
[profile keysrole]
role_arn = $ROLE
source_profile = base
[profile envrole]
role_arn = $ROLE
credential_source = Environment
[profile webkeys]
role_arn = arn:aws:iam::123456789012:role/web
web_identity_token_file = $HOME/token
EOT
	local rows=(
		# explicit profile | environment | expected method
		"dev||assume-role"
		"dev|AWS_ACCESS_KEY_ID=AKIDBASE AWS_SECRET_ACCESS_KEY=base-secret-not-real|assume-role"
		"|AWS_PROFILE=dev AWS_ACCESS_KEY_ID=AKIDBASE AWS_SECRET_ACCESS_KEY=base-secret-not-real|env"
		"|AWS_PROFILE=base AWS_WEB_IDENTITY_TOKEN_FILE=$HOME/token AWS_ROLE_ARN=arn:aws:iam::123456789012:role/web|assume-role-with-web-identity"
		"keysrole||assume-role"
		"base||shared-credentials-file"
		"envrole|AWS_ACCESS_KEY_ID=AKIDBASE AWS_SECRET_ACCESS_KEY=base-secret-not-real|assume-role"
		"webkeys||assume-role-with-web-identity"
	)
	local row prof envs want got_d got_b
	for row in "${rows[@]}"; do
		IFS='|' read -r prof envs want <<<"$row"
		if [ -n "$prof" ]; then
			got_d=$(env $envs bash -c "$(declare -f dynamofs_method); DYNAMOFS='$DYNAMOFS' DYNAMOFS_ENDPOINT='$DYNAMOFS_ENDPOINT' dynamofs_method --profile '$prof'")
		else
			got_d=$(env $envs bash -c "$(declare -f dynamofs_method); DYNAMOFS='$DYNAMOFS' DYNAMOFS_ENDPOINT='$DYNAMOFS_ENDPOINT' dynamofs_method")
		fi
		got_b=$(env $envs bash -c "$(declare -f botocore_method); PY='$PY' botocore_method '$prof'")
		echo "row [$row]: dynamofs $got_d, botocore $got_b"
		[ "$got_b" = "$want" ]
		[ "$got_d" = "$want" ]
	done
}
