#!/usr/bin/env bats
# mfa.bats - a role profile with mfa_serial: dynamofs asks for the code on the
# terminal (a tmux pane here) before it mounts, as sshfs asks for a password,
# and sends it to tests/tools/fakests.py as TokenCode with SerialNumber; the
# role's keys then sign DynamoDB requests through the signature-checking proxy
# (which accepts only keys the fake issued). A wrong code and a missing
# terminal are one line and exit 1; credentials got with a code are not
# renewed during the mount (no one to ask): EACCES, and the log says why.

load helpers

ROLE=arn:aws:iam::123456789012:role/mfa
SERIAL=arn:aws:iam::123456789012:mfa/user
CODE=123456
PROMPT="Enter MFA code for $SERIAL: "
# as capture-pane shows it: trailing blanks dropped
SHOWN=${PROMPT% }

setup() {
	clean_aws_env
	STS_PID=
	TMUX_SOCK=
	MNT=$BATS_TEST_TMPDIR/mnt
	DLOG=$BATS_TEST_TMPDIR/dynamofs.log
	mkdir -p "$MNT"
	start_sts
}

teardown() {
	if mountpoint -q "$MNT"; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	fi
	if [ -n "$TMUX_SOCK" ]; then
		tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	fi
	stop_proxy
	if [ -n "${STS_PID:-}" ]; then
		kill "$STS_PID" 2>/dev/null
		wait "$STS_PID" 2>/dev/null
	fi
	return 0
}

# Starts fakests.py (it knows the base keys and wants $CODE for $ROLE),
# writes the profiles and starts the proxy, which accepts only what the fake
# issues; sets STS_LOG, AWS_ENDPOINT_URL_STS and PROXY_URL.
start_sts() {
	local dir=$BATS_TEST_TMPDIR i
	printf '{"region": "us-east-1", "keys": {"AKIDBASE": "base-secret-not-real"}, "mfa": {"%s": {"serial": "%s", "code": "%s"}}}' \
		"$ROLE" "$SERIAL" "$CODE" >"$dir/sts.json"
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
[profile mfa]
role_arn = $ROLE
source_profile = base
mfa_serial = $SERIAL
role_session_name = e2e
duration_seconds = 900
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

# tmux_run STDERR_FILE CMD...: runs CMD in a new tmux server of its own (a
# terminal, as a user's shell gives one) with stderr to STDERR_FILE; its exit
# status goes to $RCFILE (tmux's own pane_dead_status is not always set).
# The pane stays after CMD exits so that its text can be read.
tmux_run() {
	local errfile=$1 conf=$BATS_TEST_TMPDIR/tmux.conf
	shift
	RCFILE=$BATS_TEST_TMPDIR/rc
	rm -f "$RCFILE"
	# in the test's directory, which bats removes (-L would leave it in /tmp)
	TMUX_SOCK=$BATS_TEST_TMPDIR/tmux.sock
	echo 'set -g remain-on-exit on' >"$conf"
	tmux -S "$TMUX_SOCK" -f "$conf" new-session -d -x 200 -y 40 \
		"$(printf '%q ' "$@") 2>$(printf '%q' "$errfile"); echo \$? >$(printf '%q' "$RCFILE.tmp"); mv $(printf '%q %q' "$RCFILE.tmp" "$RCFILE")"
}

pane_text() {
	tmux -S "$TMUX_SOCK" capture-pane -p
}

pane_has() {
	pane_text | grep -qF -- "$1"
}

# The exit status of the command in the pane; empty while it runs.
pane_status() {
	cat "$RCFILE" 2>/dev/null
}

pane_dead() {
	[ -s "$RCFILE" ]
}

type_code() {
	tmux -S "$TMUX_SOCK" send-keys "$1" Enter
}

# wait_until TRIES COND: evaluates COND every 0.1 s, at most TRIES times;
# false (with the pane's text) when it never held.
wait_until() {
	local i
	for i in $(seq 1 "$1"); do
		eval "$2" && return 0
		sleep 0.1
	done
	echo "never held: $2; the pane shows:" >&2
	pane_text | grep -v '^$' >&2
	return 1
}

# Waits for the mount, failing at once (with the log) if dynamofs exits.
wait_mounted() {
	local i
	for i in $(seq 1 200); do
		mountpoint -q "$MNT" && return 0
		if pane_dead; then
			echo "dynamofs exited ($(pane_status)) before mounting:" >&2
			cat "$1" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "dynamofs did not mount" >&2
	cat "$1" >&2
	return 1
}

# How many lines of file $1 hold the code as a number of its own (the
# account id 123456789012 begins with it).
code_lines() {
	grep -cE "(^|[^0-9])$CODE([^0-9]|$)" "$1" || true
}

# The mount in the pane (-f, debug log in $DLOG), after the prompt and the
# code. teardown unmounts it if the test did not.
mount_with_code() {
	tmux_run "$DLOG" "$DYNAMOFS" "$PROXY_URL" "$MNT" --profile mfa -f -o log=debug "$@"
	wait_until 200 'pane_has "$SHOWN"'
	# nothing went to STS before the code
	[ ! -s "$STS_LOG" ]
	type_code "$CODE"
	wait_mounted "$DLOG"
}

# Unmounts the pane's dynamofs and checks it exited 0 with no error or
# warning in its log but those EXPECT_LOG (a regex) allows.
unmount_pane() {
	local bad
	fusermount3 -u "$MNT"
	wait_until 300 pane_dead
	[ "$(pane_status)" = 0 ] || { echo "exit status $(pane_status)" >&2; tail -20 "$DLOG" >&2; return 1; }
	bad=$(grep -E '^dynamofs: (error|warning):' "$DLOG" |
		grep -Ev "${EXPECT_LOG:-^\$}" || true)
	[ -z "$bad" ] || { echo "unexpected log: $bad" >&2; return 1; }
}

@test "mfa_serial in a terminal: the prompt, the code as TokenCode, ls and cat through the role's keys; the code is never shown again" {
	T=$(uniq_table mfa)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	mount_with_code
	run ls "$MNT"
	assert_success
	assert_line "$T"
	run jq -c . "$MNT/$T/a.json"
	assert_success
	assert_output '{"id":"a","v":1}'
	# one AssumeRole with the serial, the code and duration_seconds
	run jq -r '[.action, .status, .params.RoleArn, .params.SerialNumber, .params.TokenCode, .params.DurationSeconds] | @tsv' "$STS_LOG"
	assert_output "$(printf 'AssumeRole\t200\t%s\t%s\t%s\t900' "$ROLE" "$SERIAL" "$CODE")"
	# the pane holds the code only where it was typed, the log nowhere
	pane_text >"$BATS_TEST_TMPDIR/pane"
	[ "$(code_lines "$BATS_TEST_TMPDIR/pane")" -eq 1 ]
	grep -qxF "$PROMPT$CODE" "$BATS_TEST_TMPDIR/pane"
	[ "$(code_lines "$DLOG")" -eq 0 ]
	grep -q 'request op=ListTables' "$DLOG"
	unmount_pane
}

@test "mfa_serial as a daemon: asked before detaching; the command exits 0 once mounted" {
	T=$(uniq_table mfad)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	tmux_run "$BATS_TEST_TMPDIR/err" "$DYNAMOFS" "$PROXY_URL" "$MNT" --profile mfa
	wait_until 200 'pane_has "$SHOWN"'
	! mountpoint -q "$MNT"
	type_code "$CODE"
	# the foreground process exits 0 once the mount is there
	wait_until 300 pane_dead
	[ "$(pane_status)" = 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
	mountpoint -q "$MNT"
	run jq -c . "$MNT/$T/a.json"
	assert_success
	assert_output '{"id":"a","v":1}'
	fusermount3 -u "$MNT"
	[ "$(jq -r .params.TokenCode "$STS_LOG")" = "$CODE" ]
}

@test "--check in a terminal asks too; stdout has the report, not the prompt" {
	local out=$BATS_TEST_TMPDIR/out
	tmux_run "$BATS_TEST_TMPDIR/err" sh -c "exec \"\$0\" \"\$@\" >$out" \
		"$DYNAMOFS" --check -o endpoint="$PROXY_URL" --profile mfa
	wait_until 200 'pane_has "$SHOWN"'
	type_code "$CODE"
	wait_until 300 pane_dead
	[ "$(pane_status)" = 0 ]
	run cat "$out"
	assert_line "credentials: role $ROLE (profile \"mfa\", MFA $SERIAL) via profile \"base\" in $HOME/.aws/credentials"
	assert_line --regexp '^ListTables: +OK'
	refute_output --partial "Enter MFA code"
	[ "$(code_lines "$out")" -eq 0 ]
}

@test "a wrong code: STS refuses, one line without the code, exit 1, nothing mounted" {
	tmux_run "$BATS_TEST_TMPDIR/err" "$DYNAMOFS" "$PROXY_URL" "$MNT" --profile mfa
	wait_until 200 'pane_has "$SHOWN"'
	type_code 654321
	wait_until 300 pane_dead
	[ "$(pane_status)" = 1 ]
	run cat "$BATS_TEST_TMPDIR/err"
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "dynamofs: profile \"mfa\": STS AssumeRole of role $ROLE refused: AccessDenied: MultiFactorAuthentication failed"
	refute_output --partial 654321
	run mountpoint -q "$MNT"
	assert_failure
	[ "$(jq -r .params.TokenCode "$STS_LOG")" = 654321 ]
}

@test "no terminal (setsid, stdin /dev/null): one line, exit 1, nothing mounted, nothing sent to STS" {
	local want="dynamofs: profile \"mfa\": role $ROLE needs an MFA code (mfa_serial $SERIAL) but there is no terminal to ask for it; mount from a terminal, or for unattended mounts use a profile with credential_process instead of \"mfa\""
	run --separate-stderr timeout 30 setsid -w "$DYNAMOFS" "$PROXY_URL" "$MNT" --profile mfa </dev/null
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "$want" ]
	[ -z "$output" ]
	run mountpoint -q "$MNT"
	assert_failure
	run --separate-stderr timeout 30 setsid -w "$DYNAMOFS" --check -o endpoint="$PROXY_URL" --profile mfa </dev/null
	assert_failure 1
	[ "$stderr" = "$want" ]
	[ ! -s "$STS_LOG" ]
}

@test "credentials got with a code expire during the mount: EACCES, the log says why, no second AssumeRole" {
	T=$(uniq_table mfax)
	ddb create "$T" id:S
	ddb put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	ddb put "$T" '{"id":{"S":"b"},"v":{"N":"2"}}'
	export DYNAMOFS_TEST_CLOCK=1
	mount_with_code
	run jq -c . "$MNT/$T/a.json"
	assert_success
	# past the 900 s the role's credentials were issued for
	setfattr -n user.dynamofs.test.advance_clock -v 1000 "$MNT"
	run ls "$MNT"
	assert_failure
	assert_output --partial "Permission denied"
	run cat "$MNT/$T/b.json"
	assert_failure
	assert_output --partial "Permission denied"
	grep -F "could not refresh credentials from role $ROLE (profile \"mfa\", MFA $SERIAL)" "$DLOG" |
		grep -qF "role $ROLE needs an MFA code (mfa_serial $SERIAL); remount from a terminal to enter a new one; they have expired"
	[ "$(wc -l <"$STS_LOG")" -eq 1 ]
	[ "$(code_lines "$DLOG")" -eq 0 ]
	EXPECT_LOG='needs an MFA code|could not get credentials|Permission denied' unmount_pane
}
