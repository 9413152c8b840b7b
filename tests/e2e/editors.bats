#!/usr/bin/env bats
# editors.bats - real editors and tools save items through the mount (SPEC §5,
# docs/EDITORS.md): vim and nano driven in tmux, sed -i, perl -pi, jq + mv,
# Python's json.dump, cp and shell redirection. For each, boto3 checks the
# result, that no other item appeared or vanished, and a poller
# (tests/tools/itempoller.py, consistent reads all through the save) that the
# stored item was never absent or partial.

load helpers

POLLER="$DYNAMOFS_ROOT/tests/tools/itempoller.py"

setup() {
	clean_aws_env
	local_creds
	TMUX_SOCK=
	POLLER_PID=
	OUTSIDE=
}

teardown() {
	if [ -n "$POLLER_PID" ]; then
		kill "$POLLER_PID" 2>/dev/null
		wait "$POLLER_PID" 2>/dev/null
	fi
	if [ -n "$TMUX_SOCK" ]; then
		tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	fi
	cleanup_mount
	if [ -n "$OUTSIDE" ] && ! mountpoint -q "$OUTSIDE/mnt"; then
		rm -rf "$OUTSIDE"
	fi
}

# Mounts like mount_fs, but under /var/tmp: vim's 'backupskip' covers /tmp/*
# (where $BATS_TEST_TMPDIR is), and there vim writes in place with no backup;
# in a user's directory it renames the file to x.json~ first.
mount_outside_tmp() {
	local saved=$BATS_TEST_TMPDIR rc=0
	OUTSIDE=$(mktemp -d /var/tmp/dynamofs-e2e.XXXXXX)
	BATS_TEST_TMPDIR=$OUTSIDE
	mount_fs "$@" || rc=$?
	BATS_TEST_TMPDIR=$saved
	return $rc
}

# Waits (up to $2 seconds, default 20) until the shell condition $1 holds.
wait_for() {
	local cond=$1 deadline=$((SECONDS + ${2:-20}))
	until eval "$cond"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out waiting for: $cond" >&2
			return 1
		fi
		sleep 0.1
	done
}

# A table p:S s:S with items P/x (v 1 and more), P/y and Q/z.
seed_table() {
	T=$(uniq_table "$1")
	ddbtool create "$T" p:S s:S
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"x"},"v":{"N":"1"},"name":{"S":"dev x"},"tags":{"SS":["a","b"]},"info":{"M":{"t":{"N":"41.3"}}}}'
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"y"},"v":{"N":"1"}}'
	ddbtool put "$T" '{"p":{"S":"Q"},"s":{"S":"z"},"v":{"N":"1"}}'
	XKEY='{"p":{"S":"P"},"s":{"S":"x"}}'
}

# Starts the poller (mode and arguments as itempoller.py watch takes them)
# on table $T after recording the table's items; returns once it polled.
poll_start() {
	PDIR="$BATS_TEST_TMPDIR/poll"
	rm -rf "$PDIR"
	mkdir -p "$PDIR"
	ddbtool scan "$T" >"$PDIR/before"
	ddbtool scan-keys "$T" >"$PDIR/keys-before"
	"$PY" "$POLLER" watch "$PDIR/out" "$PDIR/ready" "$PDIR/stop" "$T" "$@" &
	POLLER_PID=$!
	wait_for '[ -e "$PDIR/ready" ]' 30
}

# Stops the poller and asserts it saw each item only as it was before or
# after, that the table's keys did not change, and that no scratch name
# reached the table.
poll_check() {
	touch "$PDIR/stop"
	wait "$POLLER_PID"
	POLLER_PID=
	ddbtool scan "$T" >"$PDIR/after"
	run "$PY" "$POLLER" check "$PDIR/out" "$PDIR/before" "$PDIR/after"
	echo "poller: $(head -1 "$PDIR/out")"
	assert_success
	run ddbtool scan-keys "$T"
	assert_output "$(cat "$PDIR/keys-before")"
	refute_output --regexp 'swp|swx|4913|~|\.tmp|sed|"t"'
}

# Starts $2... in a new tmux server (own socket) in directory $1.
tmux_start() {
	local dir=$1
	shift
	TMUX_SOCK="dynamofs-e2e-$$-$BATS_SUITE_TEST_NUMBER"
	tmux -L "$TMUX_SOCK" -f /dev/null new-session -d -x 160 -y 40 -c "$dir" "$*"
}

screen_has() {
	tmux -L "$TMUX_SOCK" capture-pane -p | grep -qF -- "$1"
}

tmux_gone() {
	! tmux -L "$TMUX_SOCK" has-session 2>/dev/null
}

# How many items have each value of v.
v_counts() {
	ddbtool scan "$T" | jq -r .v.N | sort | uniq -c
}

xitem_v() {
	ddbtool get "$T" "$XKEY" | jq -r '.v.N'
}

# The item x after its v went from 1 to $1, everything else as before.
assert_x_v() {
	run ddbtool get-norm "$T" "$XKEY"
	assert_output '{"info":{"M":{"t":{"N":"41.3"}}},"name":{"S":"dev x"},"p":{"S":"P"},"s":{"S":"x"},"tags":{"SS":["a","b"]},"v":{"N":"'"$1"'"}}'
}

# vim in tmux on P/x.json: :%s the value, then SAVE (":w" or ":wq"); waits
# for DynamoDB to show the change, quits, waits for vim to exit.
vim_edit() {
	local save=$1 trace=$2
	shift 2
	local cmd="vim $* x.json"
	if [ -n "$trace" ]; then
		cmd="strace -f -e trace=file -o $trace $cmd"
	fi
	tmux_start "$MNT/$T/P" "$cmd"
	wait_for 'screen_has "\"v\": 1"' 15
	tmux -L "$TMUX_SOCK" send-keys ':%s/"v": 1/"v": 2/' Enter
	wait_for 'screen_has "\"v\": 2"' 10
	tmux -L "$TMUX_SOCK" send-keys "$save" Enter
	wait_for '[ "$(xitem_v)" = 2 ]' 20
	if [ "$save" = ":w" ]; then
		tmux -L "$TMUX_SOCK" send-keys ':q' Enter
	fi
	wait_for tmux_gone 15
}

# What vim did, from its strace log (when strace is there), for the record.
vim_path_taken() {
	[ -s "$1" ] || return 0
	if grep -q 'rename("x.json", "x.json~")' "$1"; then
		echo "vim renamed x.json to x.json~ (backupcopy=auto, 4913 probe passed)"
	elif grep -q '"x.json~", O_WRONLY|O_CREAT' "$1"; then
		echo "vim copied x.json to x.json~ and wrote x.json in place"
	else
		echo "vim wrote x.json in place with no backup"
	fi
}

@test "vim (Debian defaults, under /tmp: no backup) edits an item: :w, wait, :q" {
	seed_table vimtmp
	mount_fs
	poll_start item "$XKEY"
	log_mark
	vim_edit :w ""
	poll_check
	assert_x_v 2
	[ "$(requests_since DeleteItem)" -eq 0 ]
	# vim removed its swap file; nothing else is left
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	run jq .v "$MNT/$T/P/x.json"
	assert_output 2
	unmount_fs
}

@test "vim (Debian defaults, mount outside /tmp: 4913 probe, x.json~ backup) edits an item with :wq" {
	seed_table vimrename
	mount_outside_tmp
	trace=
	command -v strace >/dev/null && trace="$BATS_TEST_TMPDIR/vim.strace"
	poll_start item "$XKEY"
	log_mark
	vim_edit :wq "$trace"
	poll_check
	assert_x_v 2
	[ "$(requests_since DeleteItem)" -eq 0 ]
	if [ -n "$trace" ]; then
		vim_path_taken "$trace"
		# the setting this test is about: backupskip did not apply
		grep -q '"4913", O_WRONLY|O_CREAT|O_EXCL' "$trace" ||
			grep -q '"x.json~", O_WRONLY|O_CREAT' "$trace"
	fi
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	unmount_fs
}

@test "vim -u NONE (compatible: backupcopy=yes, copy to x.json~) edits an item" {
	seed_table vimnone
	mount_outside_tmp
	trace=
	command -v strace >/dev/null && trace="$BATS_TEST_TMPDIR/vim.strace"
	poll_start item "$XKEY"
	vim_edit :wq "$trace" -u NONE -i NONE
	poll_check
	assert_x_v 2
	[ -z "$trace" ] || vim_path_taken "$trace"
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	unmount_fs
}

# boto3 sets item x's name to "dev b" (name is a reserved word: #n).
other_client_renames_x() {
	ddbtool update "$T" "$XKEY" "SET #n = :n" '{":n":{"S":"dev b"}}' '{"#n":"name"}'
}

# The status line vim shows after a save failed: its message names the
# error (E667 "Fsync failed" or E512 "Close failed" with ESTALE).
vim_save_failed() {
	screen_has "Fsync failed" || screen_has "Close failed" ||
		screen_has "Stale file handle" || screen_has "E212"
}

@test "vim, another client changed the item and the mount saw it: :w warns, y gets ESTALE and overwrites nothing; :e! and :w save" {
	seed_table vimwarn
	# The kernel keeps nothing (cache_ttl=0), so vim's stat before the
	# save reaches the mount; the test clock moves the time the mount
	# gives the new content, so its mtime differs whatever the real time.
	export DYNAMOFS_TEST_CLOCK=1
	mount_outside_tmp -o cache_ttl=0
	log_mark
	tmux_start "$MNT/$T/P" vim x.json
	wait_for 'screen_has "\"v\": 1"' 15
	other_client_renames_x
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	tmux -L "$TMUX_SOCK" send-keys ':%s/"v": 1/"v": 2/' Enter
	wait_for 'screen_has "\"v\": 2"' 10
	tmux -L "$TMUX_SOCK" send-keys ':w' Enter
	wait_for 'screen_has "changed since reading it"' 15
	tmux -L "$TMUX_SOCK" send-keys y
	wait_for vim_save_failed 15
	# nothing overwritten: boto3's name, the old v
	run ddbtool get "$T" "$XKEY"
	assert_output --partial '"name":{"S":"dev b"}'
	assert_output --partial '"v":{"N":"1"}'
	grep -q '"v": 2' "$MNT/$T/P/.x.json.rejected"
	# vim then removed x.json and renamed its backup back: neither
	# deleted the other client's item nor put the old text back
	[ "$(requests_since DeleteItem)" -eq 0 ]
	[ "$(requests_since PutItem)" -eq 1 ]
	[ -e "$MNT/$T/P/x.json" ]
	[ ! -e "$MNT/$T/P/x.json~" ]
	# :e! reads the other version; the edit on it saves
	tmux -L "$TMUX_SOCK" send-keys Escape ':e!' Enter
	wait_for 'screen_has "dev b"' 15
	tmux -L "$TMUX_SOCK" send-keys ':%s/"v": 1/"v": 2/' Enter ':wq' Enter
	wait_for '[ "$(xitem_v)" = 2 ]' 20
	wait_for tmux_gone 15
	run ddbtool get "$T" "$XKEY"
	assert_output --partial '"name":{"S":"dev b"}'
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	unset DYNAMOFS_TEST_CLOCK
	EXPECT_LOG='changed since this writer read it|not stored'
	unmount_fs
}

@test "vim, another client changed the item within cache_ttl: :w gets ESTALE, nothing overwritten; :e! and :w save" {
	seed_table vimstale
	# outside /tmp: vim renames x.json to its backup x.json~ first, and
	# that backup holds the text vim read, not the other client's
	mount_outside_tmp -o cache_ttl=600
	log_mark
	tmux_start "$MNT/$T/P" vim x.json
	wait_for 'screen_has "\"v\": 1"' 15
	other_client_renames_x
	tmux -L "$TMUX_SOCK" send-keys ':%s/"v": 1/"v": 2/' Enter
	wait_for 'screen_has "\"v\": 2"' 10
	tmux -L "$TMUX_SOCK" send-keys ':w' Enter
	wait_for vim_save_failed 15
	screen_has "E512: Close failed"
	run ddbtool get "$T" "$XKEY"
	assert_output --partial '"name":{"S":"dev b"}'
	assert_output --partial '"v":{"N":"1"}'
	[ "$(requests_since DeleteItem)" -eq 0 ]
	[ "$(requests_since PutItem)" -eq 1 ]
	tmux -L "$TMUX_SOCK" send-keys Escape ':e!' Enter
	wait_for 'screen_has "dev b"' 15
	tmux -L "$TMUX_SOCK" send-keys ':%s/"v": 1/"v": 2/' Enter ':wq' Enter
	wait_for '[ "$(xitem_v)" = 2 ]' 20
	wait_for tmux_gone 15
	run ddbtool get "$T" "$XKEY"
	assert_output --partial '"name":{"S":"dev b"}'
	EXPECT_LOG='changed since this writer read it|not stored'
	unmount_fs
}

@test "vim in a hash-only table (scratch files beside items at the table level)" {
	T=$(uniq_table vimhash)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"x"},"v":{"N":"1"},"keep":{"S":"me"}}'
	ddbtool put "$T" '{"id":{"S":"other"}}'
	XKEY='{"id":{"S":"x"}}'
	mount_outside_tmp
	poll_start item "$XKEY"
	tmux_start "$MNT/$T" vim x.json
	wait_for 'screen_has "\"v\": 1"' 15
	tmux -L "$TMUX_SOCK" send-keys ':%s/"v": 1/"v": 3/' Enter ':wq' Enter
	wait_for '[ "$(xitem_v)" = 3 ]' 20
	wait_for tmux_gone 15
	poll_check
	run ddbtool get "$T" "$XKEY"
	assert_output '{"id":{"S":"x"},"keep":{"S":"me"},"v":{"N":"3"}}'
	run ls -A "$MNT/$T"
	assert_output "other.json
x.json"
	unmount_fs
}

# In the nano of the tmux session: replace "v": 1 by "v": 2 (M-r, all
# instances), then save with ^S.
nano_replace_and_save() {
	tmux -L "$TMUX_SOCK" send-keys M-r
	wait_for 'screen_has "Search (to replace)"' 5
	tmux -L "$TMUX_SOCK" send-keys '"v": 1' Enter
	wait_for 'screen_has "Replace with"' 5
	tmux -L "$TMUX_SOCK" send-keys '"v": 2' Enter
	wait_for 'screen_has "Replace this instance"' 5
	tmux -L "$TMUX_SOCK" send-keys a
	tmux -L "$TMUX_SOCK" send-keys C-s
}

@test "nano (Debian's nanorc, with locking) edits an item: replace, ^S, ^X" {
	seed_table nano
	mount_fs
	poll_start item "$XKEY"
	log_mark
	tmux_start "$MNT/$T/P" nano x.json
	wait_for 'screen_has "\"v\": 1"' 15
	nano_replace_and_save
	wait_for '[ "$(xitem_v)" = 2 ]' 20
	tmux -L "$TMUX_SOCK" send-keys C-x
	wait_for tmux_gone 15
	poll_check
	assert_x_v 2
	[ "$(requests_since DeleteItem)" -eq 0 ]
	[ "$(requests_since PutItem)" -eq 1 ]
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	unmount_fs
}

@test "nano, another client changed the item: ^S says Stale file handle and overwrites nothing" {
	seed_table nanostale
	mount_fs -o cache_ttl=600
	log_mark
	tmux_start "$MNT/$T/P" nano x.json
	wait_for 'screen_has "\"v\": 1"' 15
	other_client_renames_x
	nano_replace_and_save
	wait_for 'screen_has "Stale file handle"' 15
	screen_has "Error writing x.json: Stale file handle"
	run ddbtool get "$T" "$XKEY"
	assert_output --partial '"name":{"S":"dev b"}'
	assert_output --partial '"v":{"N":"1"}'
	[ "$(requests_since DeleteItem)" -eq 0 ]
	grep -q '"v": 2' "$MNT/$T/P/.x.json.rejected"
	# quit without saving
	tmux -L "$TMUX_SOCK" send-keys C-x
	wait_for 'screen_has "Save modified buffer"' 5
	tmux -L "$TMUX_SOCK" send-keys n
	wait_for tmux_gone 15
	EXPECT_LOG='changed since this writer read it|not stored'
	unmount_fs
}

@test "find -exec sed -i over 200 items updates all 200, none ever missing" {
	T=$(uniq_table bulk200)
	ddbtool create "$T" p:S s:S
	for part in A B C D; do
		ddbtool fill-part "$T" 50 "$part" item-
	done
	mount_fs
	poll_start scan
	log_mark
	run find "$MNT/$T" -name '*.json' -exec sed -i 's/"v": 1/"v": 2/' {} +
	assert_success
	poll_check
	[ "$(ddbtool count "$T")" -eq 200 ]
	run v_counts
	assert_output --regexp '^ *200 2$'
	[ "$(requests_since DeleteItem)" -eq 0 ]
	[ "$(requests_since PutItem)" -eq 200 ]
	run find "$MNT/$T" -type f
	[ "${#lines[@]}" -eq 200 ]
	refute_output --regexp "/sed[^/]*$"
	unmount_fs
}

@test "perl -pi -e over a few items" {
	seed_table perl
	mount_fs
	poll_start scan
	run perl -pi -e 's/"v": 1/"v": 5/' "$MNT/$T/P/x.json" "$MNT/$T/P/y.json" "$MNT/$T/Q/z.json"
	assert_success
	poll_check
	assert_x_v 5
	run ddbtool get "$T" '{"p":{"S":"Q"},"s":{"S":"z"}}'
	assert_output '{"p":{"S":"Q"},"s":{"S":"z"},"v":{"N":"5"}}'
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"y"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"y"},"v":{"N":"5"}}'
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	unmount_fs
}

@test "jq '.v = 5' f > t && mv t f (t beside f)" {
	seed_table jq
	mount_fs
	poll_start item "$XKEY"
	run sh -c "cd '$MNT/$T/P' && jq '.v = 5' x.json > t && mv t x.json"
	assert_success
	poll_check
	assert_x_v 5
	run ls -A "$MNT/$T/P"
	assert_output "x.json
y.json"
	unmount_fs
}

@test "Python json.dump(obj, open(f, 'w')) rewrites an item" {
	seed_table pydump
	mount_fs
	poll_start item "$XKEY"
	run "$PY" -c 'import json, sys
f = sys.argv[1]
obj = json.load(open(f))
obj["v"] = 7
json.dump(obj, open(f, "w"), indent=2)' "$MNT/$T/P/x.json"
	assert_success
	wait_for '[ "$(xitem_v)" = 7 ]' 10
	poll_check
	assert_x_v 7
	unmount_fs
}

@test "cp onto an existing item and echo > item (O_TRUNC) never leave it key-only" {
	seed_table cptrunc
	mount_fs
	jq '.v = 8' "$MNT/$T/P/x.json" >"$BATS_TEST_TMPDIR/x.json"
	poll_start item "$XKEY"
	log_mark
	for _ in 1 2 3; do
		cp "$BATS_TEST_TMPDIR/x.json" "$MNT/$T/P/x.json"
	done
	poll_check
	assert_x_v 8
	[ "$(requests_since PutItem)" -eq 3 ]
	poll_start item "$XKEY"
	jq -c '.v = 9' "$MNT/$T/P/x.json" >"$BATS_TEST_TMPDIR/x9.json"
	for _ in 1 2 3; do
		sh -c "cat '$BATS_TEST_TMPDIR/x9.json' > '$MNT/$T/P/x.json'"
	done
	poll_check
	assert_x_v 9
	unmount_fs
}
