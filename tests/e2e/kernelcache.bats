#!/usr/bin/env bats
# kernelcache.bats - the kernel's caches within cache_ttl: a second read of an
# unchanged item is served from the kernel's pages (no READ reaches the
# daemon, no request the server), a change by boto3 shows after cache_ttl,
# the mount's own writes (write, sed -i, truncate, mv) show at once. FUSE
# requests are counted with the root's user.dynamofs.stats.

load helpers

setup() {
	clean_aws_env
	local_creds
}

teardown() {
	cleanup_mount
}

# The count of FUSE requests of kind $1 the mount has served.
fuse_ops() {
	getfattr --absolute-names --only-values -n user.dynamofs.stats "$MNT" |
		awk -v k="$1" '$1 == k { print $2 }'
}

# Remembers the counts now; fuse_ops_since KIND is what was served since.
fuse_mark() {
	FUSE_MARK=$(getfattr --absolute-names --only-values -n user.dynamofs.stats "$MNT")
}

fuse_ops_since() {
	local before
	before=$(awk -v k="$1" '$1 == k { print $2 }' <<<"$FUSE_MARK")
	echo $(($(fuse_ops "$1") - before))
}

# Waits (bounded) until the mount has sent a kernel invalidation since
# fuse_mark.
wait_invalidated() {
	local i
	for i in $(seq 1 200); do
		[ "$(fuse_ops_since invalidate)" -ge 1 ] && return 0
		sleep 0.05
	done
	echo "no invalidation was sent" >&2
	return 1
}

# A table id:S, sk:N with partition p of $1 items, v = 1.
seed() {
	T=$(uniq_table "$2")
	ddbtool create "$T" id:S sk:N
	local i
	for i in $(seq 1 "$1"); do
		printf '{"id":"p","sk":%d,"v":1,"name":"item %d"}\n' "$i" "$i"
	done | jq -s . >"$BATS_TEST_TMPDIR/seed.json"
	ddbtool load "$T" "$BATS_TEST_TMPDIR/seed.json"
}

@test "user.dynamofs.stats counts the FUSE requests the mount served" {
	seed 1 stats
	mount_fs
	run getfattr --absolute-names --only-values -n user.dynamofs.stats "$MNT"
	assert_success
	assert_line --regexp '^getattr [0-9]+$'
	assert_line --regexp '^open [0-9]+$'
	assert_line --regexp '^read [0-9]+$'
	assert_line --regexp '^release [0-9]+$'
	assert_line --regexp '^invalidate [0-9]+$'
	fuse_mark
	cat "$MNT/$T/p/1.json" >/dev/null
	[ "$(fuse_ops_since open)" -eq 1 ]
	[ "$(fuse_ops_since read)" -ge 1 ]
	# only the root has it
	run getfattr --absolute-names --only-values -n user.dynamofs.stats "$MNT/$T"
	assert_failure
}

@test "a second read of an unchanged item within cache_ttl is served by the kernel: no READ, no request" {
	seed 20 second
	mount_fs -o cache_ttl=600
	first=$(cat "$MNT/$T/p/"*.json | sha256sum)
	log_mark
	fuse_mark
	second=$(cat "$MNT/$T/p/"*.json | sha256sum)
	[ "$first" = "$second" ]
	[ "$(fuse_ops_since read)" -eq 0 ]
	[ "$(fuse_ops_since open)" -eq 20 ]
	[ "$(requests_since)" -eq 0 ]
	# grep -r and jq the same way
	fuse_mark
	run grep -rl '"item 7"' "$MNT/$T/p"
	assert_output "$MNT/$T/p/7.json"
	run jq -s 'map(.v) | add' "$MNT/$T/p/"*.json
	assert_output 20
	[ "$(fuse_ops_since read)" -eq 0 ]
	[ "$(requests_since)" -eq 0 ]
	# and what the kernel served is what boto3 has
	run jq -c '[.id, .sk, .v, .name]' "$MNT/$T/p/3.json"
	assert_output '["p",3,1,"item 3"]'
}

@test "a change by boto3 shows after cache_ttl, kept pages or not; then the new text is kept" {
	seed 1 boto
	export DYNAMOFS_TEST_CLOCK=1
	mount_fs -o cache_ttl=600
	run jq .v "$MNT/$T/p/1.json"
	assert_output 1
	run jq .v "$MNT/$T/p/1.json"
	assert_output 1
	# the same size, so the kernel's attributes (kept for cache_ttl of
	# real time; the test clock moves only the daemon's) do not differ
	ddbtool put "$T" '{"id":{"S":"p"},"sk":{"N":"1"},"v":{"N":"2"},"name":{"S":"item 1"}}'
	run jq .v "$MNT/$T/p/1.json"
	assert_output 1
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	log_mark
	fuse_mark
	run jq .v "$MNT/$T/p/1.json"
	assert_output 2
	[ "$(requests_since GetItem)" -eq 1 ]
	[ "$(fuse_ops_since read)" -ge 1 ]
	# the change also tells the kernel to forget the file, from another
	# thread: wait for that, then the pages are filled once more and kept
	wait_invalidated
	cat "$MNT/$T/p/1.json" >/dev/null
	fuse_mark
	run jq .v "$MNT/$T/p/1.json"
	assert_output 2
	[ "$(fuse_ops_since read)" -eq 0 ]
	# unchanged after cache_ttl: one GetItem, the pages still kept
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	log_mark
	fuse_mark
	run jq .v "$MNT/$T/p/1.json"
	assert_output 2
	[ "$(requests_since GetItem)" -eq 1 ]
	[ "$(fuse_ops_since read)" -eq 0 ]
}

@test "a change by boto3 to another size shows after cache_ttl: the re-read drops the kernel's size and pages" {
	seed 1 size
	export DYNAMOFS_TEST_CLOCK=1
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/p/1.json" >/dev/null
	cat "$MNT/$T/p/1.json" >/dev/null
	ddbtool put "$T" '{"id":{"S":"p"},"sk":{"N":"1"},"v":{"N":"2"},"name":{"S":"a much longer name than before"}}'
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	# the open reads the item again and finds it changed: it drops the
	# pages and tells the kernel to forget the size, from another thread;
	# wait for that event before reading
	fuse_mark
	cat "$MNT/$T/p/1.json" >/dev/null
	wait_invalidated
	run jq -r .name "$MNT/$T/p/1.json"
	assert_output "a much longer name than before"
	[ "$(stat -c %s "$MNT/$T/p/1.json")" -eq "$(cat "$MNT/$T/p/1.json" | wc -c)" ]
}

@test "the mount's own writes show at once: a write, sed -i, mv onto it, a compact write" {
	seed 3 own
	mount_fs -o cache_ttl=600
	F="$MNT/$T/p/1.json"
	cat "$F" >/dev/null
	cat "$F" >/dev/null
	# write through a descriptor (another size)
	jq '.v = 12345 | .extra = "added"' "$F" >"$BATS_TEST_TMPDIR/new.json"
	cat "$BATS_TEST_TMPDIR/new.json" >"$F"
	run jq -c '[.v, .extra]' "$F"
	assert_output '[12345,"added"]'
	# sed -i: a temporary file renamed onto the item
	sed -i 's/"added"/"edited"/' "$F"
	run jq -r .extra "$F"
	assert_output edited
	run jq -r .extra "$F"
	assert_output edited
	# mv of another item onto it
	cat "$MNT/$T/p/2.json" >/dev/null
	jq '.sk = 1 | .name = "moved"' "$MNT/$T/p/2.json" >"$BATS_TEST_TMPDIR/m.json"
	cp "$BATS_TEST_TMPDIR/m.json" "$MNT/$T/p/tmp.json"
	mv "$MNT/$T/p/tmp.json" "$F"
	run jq -r .name "$F"
	assert_output moved
	# a compact write: the kernel's pages held the bytes written, the
	# next open serves the stored item's text
	printf '{"id":"p","sk":1,"v":7}' >"$F"
	run cat "$F"
	assert_output "$(printf '{\n  "id": "p",\n  "sk": 1,\n  "v": 7\n}')"
	[ "$(stat -c %s "$F")" -eq "$(cat "$F" | wc -c)" ]
}

@test "the same item written in other bytes (sed -i, a compact write) shows in the stored item's text, not the bytes written" {
	seed 1 samebytes
	mount_fs -o cache_ttl=600
	F="$MNT/$T/p/1.json"
	want=$(cat "$F")
	cat "$F" >/dev/null
	# sed -i rewrites the file compactly: the same item, other bytes
	sed -i 's/": /":/g' "$F"
	run cat "$F"
	assert_output "$want"
	[ "$(stat -c %s "$F")" -eq "${#want}" ] || [ "$(stat -c %s "$F")" -eq "$((${#want} + 1))" ]
	cat "$F" >/dev/null
	# a compact write through a descriptor: the same again
	jq -c . "$F" >"$BATS_TEST_TMPDIR/compact.json"
	cat "$BATS_TEST_TMPDIR/compact.json" >"$F"
	run cat "$F"
	assert_output "$want"
	run jq -c . "$F"
	assert_output "$(cat "$BATS_TEST_TMPDIR/compact.json")"
}

@test "a scratch file renamed onto an item while still open cannot change the item's pages" {
	seed 1 scratchfd
	mount_fs -o cache_ttl=600
	F="$MNT/$T/p/1.json"
	want=$(cat "$F")
	export F
	# the writer keeps its descriptor of the temporary file across the
	# rename; a reader reads the item (the kernel's pages now hold the
	# item's text); then the writer writes through its old descriptor:
	# the kernel writes through the pages of the inode, which is the
	# item's now, while the daemon stores nothing for the item
	run "$PY" - "$MNT/$T/p" <<-'EOF'
		import os, subprocess, sys
		d = sys.argv[1]
		tmp = os.path.join(d, "tmpXYZ")
		fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
		os.write(fd, b'{"id":"p","sk":1,"v":1,"name":"item 1"}')
		os.rename(tmp, os.path.join(d, "1.json"))
		subprocess.run(["cat", os.environ["F"]], check=True, stdout=subprocess.DEVNULL)
		os.pwrite(fd, b"#", 0)
		os.close(fd)
	EOF
	assert_success
	run cat "$F"
	assert_output "$want"
	run cat "$F"
	assert_output "$want"
}
