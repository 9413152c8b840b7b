#!/usr/bin/env bats
# trust.bats - what a real account does that a local server never does
# (outages mid-save, throttling, odd pages), put in front of the mount by
# tests/tools/gateproxy.py: no acknowledged write lost, no byte of the user's
# lost, no table deleted that holds items, no allocation a file cannot need.

load helpers

setup() {
	clean_aws_env
	local_creds
	PROXY_PID=
	HOLD_PID=
}

teardown() {
	cleanup_mount
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null
	stop_proxy
}

# Starts gateproxy in front of the test server; GATE is its URL, GATE_CTL
# the rules file (empty: everything passes), GATE_LOG what it saw.
start_gate() {
	GATE_CTL="$BATS_TEST_TMPDIR/gate.ctl"
	GATE_LOG="$BATS_TEST_TMPDIR/gate.log"
	: >"$GATE_CTL"
	: >"$GATE_LOG"
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/gateproxy.py" \
		"$DYNAMOFS_ENDPOINT" "$GATE_CTL" "$GATE_LOG"
	GATE=$PROXY_URL
}

# Operations the gate saw since gate_mark, of kind $1.
gate_mark() {
	GATE_MARK=$(wc -l <"$GATE_LOG")
}
gate_since() {
	tail -n +"$((GATE_MARK + 1))" "$GATE_LOG" | grep -c "^$1 " || true
}

# Waits (up to 30 s) until the daemon's log has a line matching $1.
wait_log() {
	local i
	for i in $(seq 1 300); do
		grep -Eq -- "$1" "$DLOG" && return 0
		sleep 0.1
	done
	echo "no log line matches /$1/" >&2
	return 1
}

# Waits (up to 10 s) until PATH is gone: the kernel forgets a dropped
# .rejected file when the daemon's invalidation reaches it.
wait_gone() {
	local i
	for i in $(seq 1 100); do
		[ -e "$1" ] || return 0
		sleep 0.1
	done
	echo "$1 is still there" >&2
	return 1
}

# hold PATH: a program opens PATH (O_WRONLY|O_TRUNC) and waits; hold_finish
# DATA makes it write DATA and close, and leaves close's result in $output.
hold() {
	HOLD_GO="$BATS_TEST_TMPDIR/go"
	HOLD_OUT="$BATS_TEST_TMPDIR/hold.out"
	rm -f "$HOLD_GO"
	mkfifo "$HOLD_GO"
	: >"$HOLD_OUT"
	"$PY" - "$1" "$HOLD_GO" >"$HOLD_OUT" <<'EOF' &
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
print("open", flush=True)
with open(sys.argv[2]) as go:
    data = go.read().encode()
os.write(fd, data)
try:
    os.close(fd)
    print("close:ok", flush=True)
except OSError as e:
    print("close:" + errno.errorcode[e.errno], flush=True)
EOF
	HOLD_PID=$!
	local i
	for i in $(seq 1 200); do
		grep -q open "$HOLD_OUT" && return 0
		kill -0 "$HOLD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "the holder did not open $1" >&2
	return 1
}
hold_finish() {
	printf '%s' "$1" >"$HOLD_GO"
	wait "$HOLD_PID"
	HOLD_PID=
	output=$(sed -n 's/^\(close:.*\)/\1/p' "$HOLD_OUT")
}

@test "a file held open past cache_ttl: when every request fails at close its bytes are kept (no DescribeTable stands between); when the server answers, one PutItem" {
	T=$(uniq_table held)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	start_gate
	export DYNAMOFS_TEST_CLOCK=1
	MOUNT_SOURCE=$GATE mount_fs -o retries=1
	# Open, move the mount's clock past cache_ttl (the table's
	# description expires), then close while every request fails.
	hold "$MNT/$T/a.json"
	setfattr -n user.dynamofs.test.advance_clock -v 10 "$MNT"
	echo '* 500' >"$GATE_CTL"
	hold_finish '{"v": 2}'
	assert_output "close:EIO"
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	# the bytes are readable while the server is still failing
	run cat "$MNT/$T/.a.json.rejected"
	assert_success
	assert_output '{"v": 2}'
	# With the server back, a close after cache_ttl is one PutItem and no
	# DescribeTable.
	: >"$GATE_CTL"
	hold "$MNT/$T/a.json"
	setfattr -n user.dynamofs.test.advance_clock -v 10 "$MNT"
	gate_mark
	hold_finish '{"v": 3}'
	assert_output "close:ok"
	[ "$(gate_since PutItem)" -eq 1 ]
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"3"}}'
	wait_gone "$MNT/$T/.a.json.rejected"
	EXPECT_LOG='not stored|InternalServerError|DescribeTable|500|key schema' unmount_fs
}

@test "fsync of a created file that was never written stores it and reports a failure; close reports it too" {
	T=$(uniq_table fsy)
	ddbtool create "$T" id:S
	start_gate
	MOUNT_SOURCE=$GATE mount_fs -o retries=1
	echo 'PutItem 500' >"$GATE_CTL"
	run fsprobe write "$MNT/$T/new.json" "" --fsync
	assert_output "fsync:EIO close:EIO"
	[ -e "$MNT/$T/.new.json.rejected" ]
	[ ! -s "$MNT/$T/.new.json.rejected" ]
	run ddbtool get "$T" '{"id":{"S":"new"}}'
	assert_output NONE
	# server back: fsync stores (one PutItem), close has nothing left to do
	: >"$GATE_CTL"
	gate_mark
	run fsprobe write "$MNT/$T/new.json" "" --fsync
	assert_output ok
	[ "$(gate_since PutItem)" -eq 1 ]
	run ddbtool get "$T" '{"id":{"S":"new"}}'
	assert_output '{"id":{"S":"new"}}'
	wait_gone "$MNT/$T/.new.json.rejected"
	# O_TRUNC of an existing item with no write, then fsync: stored now
	ddbtool put "$T" '{"id":{"S":"old"},"v":{"N":"1"}}'
	echo 'PutItem throttle' >"$GATE_CTL"
	run fsprobe write "$MNT/$T/old.json" "" --fsync
	assert_output "fsync:EAGAIN close:EAGAIN"
	cmp /dev/null "$MNT/$T/.old.json.rejected"
	run ddbtool get "$T" '{"id":{"S":"old"}}'
	assert_output '{"id":{"S":"old"},"v":{"N":"1"}}'
	EXPECT_LOG='not stored|InternalServerError|ProvisionedThroughput|500|PutItem' unmount_fs
}

@test "a store that fails at release (touch, no write) keeps .NAME.rejected and is logged as an error" {
	T=$(uniq_table rel)
	ddbtool create "$T" id:S
	start_gate
	MOUNT_SOURCE=$GATE mount_fs -o retries=1
	echo 'PutItem 500' >"$GATE_CTL"
	# close is 0 (the store waits for release, so that a shell's dup2
	# close stores nothing); the failure is the log's and the scratch's
	touch "$MNT/$T/t.json"
	wait_log 'error: .*/t.json: the store at the last close failed'
	[ -e "$MNT/$T/.t.json.rejected" ]
	run ddbtool get "$T" '{"id":{"S":"t"}}'
	assert_output NONE
	EXPECT_LOG='not stored|InternalServerError|500|PutItem|store at the last close' unmount_fs
}

@test "rmdir of a table or partition whose first pages come back empty but not last reads on and refuses: ENOTEMPTY, nothing deleted" {
	T=$(uniq_table rmh)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"}}'
	R=$(uniq_table rmr)
	ddbtool create "$R" p:S s:S
	ddbtool put "$R" '{"p":{"S":"P"},"s":{"S":"x"}}'
	start_gate
	MOUNT_SOURCE=$GATE mount_fs
	printf 'Scan empty 2\nQuery empty 2\n' >"$GATE_CTL"
	run fsprobe rmdir "$MNT/$T"
	assert_output ENOTEMPTY
	run fsprobe rmdir "$MNT/$R/P"
	assert_output ENOTEMPTY
	run fsprobe rmdir "$MNT/$R"
	assert_output ENOTEMPTY
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"}}'
	run ddbtool get "$R" '{"p":{"S":"P"},"s":{"S":"x"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"x"}}'
	run ddbtool tables
	assert_line "$T"
	assert_line "$R"
	# an empty table is still removed: the pages run out
	E=$(uniq_table rme)
	ddbtool create "$E" id:S
	run fsprobe rmdir "$MNT/$E"
	assert_output ok
	unmount_fs
}

@test "truncate of an item past the item limit is EFBIG before anything is allocated; the item is unchanged" {
	T=$(uniq_table big)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	mount_fs
	log_mark
	# by path (truncate(2)): would be a PutItem of the padded content
	run fsprobe truncate "$MNT/$T/a.json" 943718400
	assert_output EFBIG
	run fsprobe truncate "$MNT/$T/a.json" 3276801
	assert_output EFBIG
	# through a descriptor (coreutils' ftruncate)
	run truncate -s 900M "$MNT/$T/a.json"
	assert_failure
	assert_output --partial "File too large"
	[ "$(requests_since PutItem)" -eq 0 ]
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	# No 900 MB buffer was ever made (the daemon's peak memory).
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$DYNAMOFS_PID/status")
	[ "$hwm" -lt 307200 ] || { echo "VmHWM ${hwm} kB" >&2; false; }
	[ ! -e "$MNT/$T/.a.json.rejected" ]
	EXPECT_LOG='truncate to' unmount_fs
}

@test "a table of more long keys than the mount remembers: every shortened name lists, reads and writes" {
	T=$(uniq_table longk)
	ddbtool create "$T" pk:S
	prefix=$(printf 'k%.0s' $(seq 1 300))
	ddbtool fill "$T" 1100 "$prefix"
	# cache_size=1: the mount remembers 1,024 shortened names
	mount_fs -o cache_size=1
	run bash -c "ls -U '$MNT/$T' | grep -c '\.json$'"
	assert_output 1100
	# the names learnt first are forgotten by now; each is learnt again
	for f in $(ls -U "$MNT/$T" | head -3) $(ls -U "$MNT/$T" | tail -2); do
		id=$(jq -r .pk "$MNT/$T/$f")
		[ "${#id}" -gt 300 ]
		[[ "$id" == "$prefix"* ]]
	done
	f=$(ls -U "$MNT/$T" | head -1)
	id=$(jq -r .pk "$MNT/$T/$f")
	printf '{"v": 7}' >"$MNT/$T/$f"
	run ddbtool get "$T" "{\"pk\":{\"S\":\"$id\"}}"
	assert_output "{\"pk\":{\"S\":\"$id\"},\"v\":{\"N\":\"7\"}}"
	ls -U "$MNT/$T" >"$BATS_TEST_TMPDIR/names"
	unmount_fs
	# A fresh mount looks up a name nobody listed yet: reading the
	# listing to learn its key must keep that key, although the rest of
	# the listing pushes it out of the 1,024 remembered.
	mount_fs -o cache_size=1
	for f in $(head -3 "$BATS_TEST_TMPDIR/names"); do
		run jq -r .pk "$MNT/$T/$f"
		assert_success
		[[ "$output" == "$prefix"* ]]
	done
	unmount_fs
}

@test "a rename onto an item that cannot be read at that moment fails and keeps the bytes (sed -i deletes its temporary file)" {
	T=$(uniq_table renf)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	start_gate
	export DYNAMOFS_TEST_CLOCK=1
	# the kernel keeps its names long; the mount's own cache expires
	# when the test moves its clock on
	MOUNT_SOURCE=$GATE mount_fs -o cache_ttl=600,retries=1
	cat "$MNT/$T/a.json" >/dev/null
	printf '{"v": 2}' >"$MNT/$T/t.tmp"
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	echo 'GetItem 500' >"$GATE_CTL"
	run fsprobe rename "$MNT/$T/t.tmp" "$MNT/$T/a.json"
	assert_output EIO
	: >"$GATE_CTL"
	run cat "$MNT/$T/.a.json.rejected"
	assert_output '{"v": 2}'
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	EXPECT_LOG='not stored|InternalServerError|500|GetItem|last seen' unmount_fs
}

@test "a write-open of an item another client deleted sends nothing unless written; written, it makes the item anew only while absent" {
	T=$(uniq_table reborn)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	export DYNAMOFS_TEST_CLOCK=1
	# the kernel keeps the name; the mount's cache expires when told
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	awsl dynamodb delete-item --table-name "$T" --key '{"id":{"S":"a"}}'
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	log_mark
	run fsprobe write "$MNT/$T/a.json" "" --mode r+
	assert_output ok
	[ "$(requests_since PutItem)" -eq 0 ]
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output NONE
	# written: a new item, put only if still absent
	run fsprobe write "$MNT/$T/a.json" '{"v": 3}' --mode r+
	assert_output ok
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"3"}}'
	unmount_fs
}
