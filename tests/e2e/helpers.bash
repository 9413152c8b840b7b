# helpers.bash - loaded by every bats file: assertions, the binary under
# test, a clean AWS environment in a temporary HOME, and the server to use.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

DYNAMOFS_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
[ -x "$DYNAMOFS_ROOT/scripts/test" ] || DYNAMOFS_ROOT=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)
DYNAMOFS_BUILD=${DYNAMOFS_BUILD:-$DYNAMOFS_ROOT/build}
DYNAMOFS="$DYNAMOFS_BUILD/dynamofs"
PY=/usr/bin/python3

# A fresh HOME with no AWS files and no AWS_* variables, so each test states
# exactly where settings come from. Never lets a test reach instance metadata.
clean_aws_env() {
	local v
	for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
	export HOME="$BATS_TEST_TMPDIR/home"
	mkdir -p "$HOME/.aws"
	export AWS_EC2_METADATA_DISABLED=true
}

# Dummy credentials for the local servers.
local_creds() {
	export AWS_ACCESS_KEY_ID=AKIDLOCALTEST
	export AWS_SECRET_ACCESS_KEY=local-secret-not-real
}

# Writes a profile NAME with dummy keys (and region $2) to ~/.aws/credentials.
write_profile() {
	local name=$1 region=${2:-}
	cat >>"$HOME/.aws/credentials" <<EOT
[$name]
aws_access_key_id = AKIDPROFILE$name
aws_secret_access_key = profile-secret-$name
EOT
	if [ -n "$region" ]; then
		if [ "$name" = default ]; then
			printf '[default]\nregion = %s\n' "$region" >>"$HOME/.aws/config"
		else
			printf '[profile %s]\nregion = %s\n' "$name" "$region" >>"$HOME/.aws/config"
		fi
	fi
}

# The AWS CLI against the test server, with the test's environment.
awsl() {
	aws --endpoint-url "$DYNAMOFS_ENDPOINT" --region us-east-1 --output json "$@"
}

# Fails the test when the server under test is not $1 (for server quirks).
need_server() {
	[ "${DYNAMOFS_SERVER:-}" = "$1" ] || skip "only on $1"
}

# One file system call and the errno it gave (tests/tools/fsprobe.py).
FSPROBE="$DYNAMOFS_ROOT/tests/tools/fsprobe.py"
fsprobe() {
	"$PY" "$FSPROBE" "$@"
}

DDBTOOL="$DYNAMOFS_ROOT/tests/tools/ddbtool.py"
ddbtool() {
	"$PY" "$DDBTOOL" "$@"
}

# A table name unique to this test, so tests never see each other's data.
uniq_table() {
	printf '%s_%s_%s' "$1" "$BATS_SUITE_TEST_NUMBER" "$$"
}

# Mounts the test server at $MNT (MNT_DIR when set, else one in the test's
# own directory) with dynamofs in the foreground (in the background of the
# test), logging every request to $DLOG. Waits for the mount with a
# deadline; fails with the log when the daemon dies.
mount_fs() {
	MNT="${MNT_DIR:-$BATS_TEST_TMPDIR/mnt}"
	DLOG="$BATS_TEST_TMPDIR/dynamofs.log"
	mkdir -p "$MNT"
	"$DYNAMOFS" "${MOUNT_SOURCE:-$DYNAMOFS_ENDPOINT}" "$MNT" -f -o log=debug "$@" 2>"$DLOG" &
	DYNAMOFS_PID=$!
	local i
	for i in $(seq 1 200); do
		if mountpoint -q "$MNT"; then
			MNT_DEV=$(stat -c %d "$MNT")
			return 0
		fi
		if ! kill -0 "$DYNAMOFS_PID" 2>/dev/null; then
			echo "dynamofs exited before mounting:" >&2
			cat "$DLOG" >&2
			DYNAMOFS_PID=
			return 1
		fi
		sleep 0.05
	done
	echo "dynamofs did not mount within 10 s:" >&2
	cat "$DLOG" >&2
	return 1
}

# Unmounts, waits for the daemon and fails when it did not exit 0 (a
# sanitizer report exits non-zero) or logged an error or warning that the
# test did not declare with EXPECT_LOG (an extended regex).
unmount_fs() {
	local rc=0
	[ -n "${DYNAMOFS_PID:-}" ] || return 0
	if ! fusermount3 -u "$MNT"; then
		echo "the mount was busy; unmounting lazily" >&2
		fusermount3 -uz "$MNT"
	fi
	if ! wait_exit "$DYNAMOFS_PID" 30; then
		echo "dynamofs did not exit within 30 s of the unmount" >&2
		tail -20 "$DLOG" >&2
		abort_fuse_conn
		kill -9 "$DYNAMOFS_PID" 2>/dev/null
		wait "$DYNAMOFS_PID" 2>/dev/null
		DYNAMOFS_PID=
		return 1
	fi
	wait "$DYNAMOFS_PID" || rc=$?
	DYNAMOFS_PID=
	if [ "$rc" -eq 86 ] && libfuse_leak_only "$DLOG"; then
		# libfuse's multi-threaded loop now and then leaves a worker
		# (its struct and buffer, allocated and freed inside libfuse)
		# at exit; no frame of ours is in it. Ours would show one.
		echo "# a leak inside libfuse3 at exit, not dynamofs's: ignored" >&2
		rc=0
	fi
	if [ "$rc" -ne 0 ]; then
		echo "dynamofs exited with status $rc:" >&2
		tail -50 "$DLOG" >&2
		return 1
	fi
	local bad
	bad=$(grep -E '^dynamofs: (error|warning):' "$DLOG" |
		grep -Ev "${EXPECT_LOG:-^\$}" || true)
	if [ -n "$bad" ]; then
		echo "dynamofs logged unexpected errors:" >&2
		echo "$bad" >&2
		return 1
	fi
}

# Whether the sanitizer report in log $1 is leaks only (no other ASan or
# UBSan error) and every leaked block was allocated by libfuse3 itself:
# each stack frame after the allocator's is in libfuse3.so (or libc).
libfuse_leak_only() {
	grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$1" || return 1
	grep -Eq 'ERROR: AddressSanitizer|runtime error' "$1" && return 1
	awk '
		/ERROR: LeakSanitizer/ { on = 1; next }
		/^SUMMARY: AddressSanitizer/ { on = 0 }
		on && /^ *#[0-9]+ / {
			if ($1 == "#0") next
			frames++
			if ($0 !~ /libfuse3\.so|libc\.so|libpthread/) ours = 1
		}
		END { exit (frames > 0 && !ours) ? 0 : 1 }
	' "$1"
}

# Waits up to $2 seconds for process $1 to exit; false when it has not.
wait_exit() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# Aborts the FUSE connection of $MNT (as recorded at mount time), so that a
# daemon whose lazily unmounted file system is still pinned can exit.
abort_fuse_conn() {
	local minor
	[ -n "${MNT_DEV:-}" ] || return 0
	minor=$(((MNT_DEV & 0xff) | ((MNT_DEV >> 12) & ~0xff)))
	mountpoint -q /sys/fs/fuse/connections ||
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null
	[ -w "/sys/fs/fuse/connections/$minor/abort" ] &&
		echo 1 >"/sys/fs/fuse/connections/$minor/abort"
	return 0
}

# For teardown: unmount whatever is still mounted and stop a server the
# test started itself (SERVER_PID), never failing and never hanging.
cleanup_mount() {
	if [ -n "${DYNAMOFS_PID:-}" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
		kill "$DYNAMOFS_PID" 2>/dev/null
		if ! wait_exit "$DYNAMOFS_PID" 10; then
			abort_fuse_conn
			kill -9 "$DYNAMOFS_PID" 2>/dev/null
		fi
		wait "$DYNAMOFS_PID" 2>/dev/null
		DYNAMOFS_PID=
	fi
	if [ -n "${SERVER_PID:-}" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
	fi
	return 0
}

# Requests are counted from the debug log: log_mark remembers where it
# ends, requests_since OP counts "request op=OP" lines after the mark
# (OP empty: all requests).
log_mark() {
	LOG_MARK=$(wc -l <"$DLOG")
}

requests_since() {
	tail -n +"$((LOG_MARK + 1))" "$DLOG" | grep -c "request op=${1:-}" || true
}

# Starts a test server ($2...: a tool that prints its port on the first line
# of its stdout), with $BATS_TEST_TMPDIR/$1.port for that line and its stdin
# a fifo it holds open itself, so that the fakes that serve until their stdin
# closes serve until killed (a background job's stdin is /dev/null unless
# redirected). Waits for the port, not a time; sets FAKE_PID and FAKE_PORT.
start_fake() {
	local name=$1 dir=$BATS_TEST_TMPDIR i
	shift
	FAKE_PORT=
	rm -f "$dir/$name.in" "$dir/$name.port"
	mkfifo "$dir/$name.in"
	"$@" 0<>"$dir/$name.in" >"$dir/$name.port" &
	FAKE_PID=$!
	for i in $(seq 1 100); do
		if [ -s "$dir/$name.port" ]; then
			FAKE_PORT=$(head -1 "$dir/$name.port")
			return 0
		fi
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "$name did not start: $*" >&2
	return 1
}

# start_proxy CMD...: starts a test proxy with start_fake; sets PROXY_PID,
# and PROXY_URL once the port is printed (false if it never is). The
# caller's teardown stops it with stop_proxy.
start_proxy() {
	local rc
	start_fake proxy "$@"
	rc=$?
	PROXY_PID=$FAKE_PID
	[ "$rc" -eq 0 ] && PROXY_URL="http://127.0.0.1:$FAKE_PORT"
	return "$rc"
}

stop_proxy() {
	if [ -n "${PROXY_PID:-}" ]; then
		kill "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null || true
		PROXY_PID=
	fi
	return 0
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
	"container endpoint "*) echo container-role ;;
	"SSO "*) echo sso ;;
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

# Checks rows "EXPLICIT_PROFILE|ENV_ASSIGNMENTS|EXPECTED_METHOD" of the
# precedence table: dynamofs --check and botocore must both pick the
# expected source.
check_precedence_rows() {
	local row prof envs want got_d got_b
	for row in "$@"; do
		IFS='|' read -r prof envs want <<<"$row"
		if [ -n "$prof" ]; then
			got_d=$(env $envs bash -c "$(declare -f dynamofs_method); DYNAMOFS='$DYNAMOFS' DYNAMOFS_ENDPOINT='$DYNAMOFS_ENDPOINT' dynamofs_method --profile '$prof'")
		else
			got_d=$(env $envs bash -c "$(declare -f dynamofs_method); DYNAMOFS='$DYNAMOFS' DYNAMOFS_ENDPOINT='$DYNAMOFS_ENDPOINT' dynamofs_method")
		fi
		got_b=$(env $envs bash -c "$(declare -f botocore_method); PY='$PY' botocore_method '$prof'")
		echo "row [$row]: dynamofs $got_d, botocore $got_b"
		[ "$got_b" = "$want" ] || return 1
		[ "$got_d" = "$want" ] || return 1
	done
}

# The tutorial's Devices items (tests/data/devices.json, byte for byte the
# tutorial's data.json): jq ARGS... on that file. A missing or empty file
# fails the test with its name.
DEVICES_JSON="$DYNAMOFS_ROOT/tests/data/devices.json"
devices_jq() {
	if [ ! -s "$DEVICES_JSON" ]; then
		echo "test data missing: $DEVICES_JSON" >&2
		return 1
	fi
	jq "$@" "$DEVICES_JSON"
}
