#!/usr/bin/env bats
# shared.bats - a mount shared with other local users (allow_other): they
# read, and never write with the mount owner's AWS rights (SPEC §1).

load helpers

setup() {
	clean_aws_env
	local_creds
	# The test's own directory is 0700: another user could not reach a
	# mount inside it, so this one lives in a 0755 directory of its own.
	SHARED_DIR=$(mktemp -d /tmp/dynamofs-shared.XXXXXX)
	chmod 755 "$SHARED_DIR"
	MNT_DIR="$SHARED_DIR/mnt"
}

teardown() {
	cleanup_mount
	rmdir "$MNT_DIR" "$SHARED_DIR" 2>/dev/null || true
}

# Runs a command as user nobody (no groups), from "/" which nobody can read.
as_nobody() {
	(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@")
}

# Requests after the log mark that are not reads: what a write would send.
write_requests_since() {
	tail -n +"$((LOG_MARK + 1))" "$DLOG" | grep 'request op=' |
		grep -Evc 'request op=(GetItem|BatchGetItem|Query|Scan|DescribeTable|ListTables) ' || true
}

@test "allow_other: another user reads; every write fails with EACCES and sends no write" {
	T=$(uniq_table Shared)
	ddbtool create "$T" pk:S sk:S
	ddbtool put "$T" '{"pk":{"S":"a"},"sk":{"S":"1"},"v":{"N":"1"}}'
	ddbtool put "$T" '{"pk":{"S":"a"},"sk":{"S":"2"},"v":{"N":"2"}}'
	before=$(ddbtool scan "$T")
	mount_fs -o allow_other
	F="$MNT/$T/a/1.json"

	# what the kernel checks: the mounting user's, 0644 files, 0755 dirs
	run stat -c '%a %u %g' "$MNT" "$MNT/$T" "$MNT/$T/a" "$F"
	assert_output "755 $(id -u) $(id -g)
755 $(id -u) $(id -g)
755 $(id -u) $(id -g)
644 $(id -u) $(id -g)"

	run as_nobody ls "$MNT/$T/a"
	assert_success
	assert_output "1.json
2.json"
	run as_nobody cat "$F"
	assert_success
	assert_output --partial '"v": 1'

	log_mark
	run as_nobody sh -c "echo '{\"v\": 9}' > '$F'"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody sh -c "echo '{}' > '$MNT/$T/a/3.json'"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody truncate -s 0 "$F"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody touch "$F"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody rm -f "$F"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody mv "$F" "$MNT/$T/a/9.json"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody mkdir "$MNT/$T/b"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody mkdir "$MNT/${T}_new"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody rmdir "$MNT/$T/a"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody rmdir "$MNT/$T"
	assert_failure
	assert_output --partial "Permission denied"
	[ "$(write_requests_since)" -eq 0 ]
	[ "$(ddbtool scan "$T")" = "$before" ]
	run ddbtool tables
	refute_line "${T}_new"

	# a scratch file the owner opened to all stays the owner's to write
	# (another user could change what sed -i is about to rename in)
	printf 'x' >"$MNT/$T/a/t.tmp"
	chmod 666 "$MNT/$T/a/t.tmp"
	run stat -c '%a' "$MNT/$T/a/t.tmp"
	assert_output 644
	run as_nobody sh -c "echo y > '$MNT/$T/a/t.tmp'"
	assert_failure
	assert_output --partial "Permission denied"
	run cat "$MNT/$T/a/t.tmp"
	assert_output x
	rm "$MNT/$T/a/t.tmp"

	# the owner still writes
	jq '.v = 5' "$F" >"$BATS_TEST_TMPDIR/new.json"
	cp "$BATS_TEST_TMPDIR/new.json" "$F"
	run ddbtool get-norm "$T" '{"pk":{"S":"a"},"sk":{"S":"1"}}'
	assert_output --partial '"v":{"N":"5"}'
	unmount_fs
	ddbtool delete-table "$T"
}

@test "allow_other with a umask that lets others write: one line, exit 1, nothing mounted" {
	mkdir -p "$MNT_DIR"
	# -f and a time-out: a daemon that did mount would otherwise keep
	# bats waiting on its inherited descriptors.
	run --separate-stderr timeout 20 "$DYNAMOFS" "$DYNAMOFS_ENDPOINT" "$MNT_DIR" -f -o allow_other,umask=000 3>&-
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"umask=000 with allow_other"* ]]
	run mountpoint -q "$MNT_DIR"
	assert_failure
}
