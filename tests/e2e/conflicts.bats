#!/usr/bin/env bats
# conflicts.bats - no lost updates (SPEC §6): a save over an item another
# client changed since the writer read it fails with ESTALE, stores nothing,
# keeps the writer's bytes in .NAME.rejected; re-reading makes the next save
# succeed; writes through the mount never conflict with themselves;
# version_attribute= and conflicts=overwrite. boto3 is the other client.
# Editors on a conflict: editors.bats.

load helpers

setup() {
	clean_aws_env
	local_creds
}

teardown() {
	cleanup_mount
}

log_since() {
	tail -n +"$((LOG_MARK + 1))" "$DLOG"
}

# A table id:S with item a: v 1, a name, a set, a nested map and list.
seed() {
	T=$(uniq_table "$1")
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"},"name":{"S":"dev a"},"tags":{"SS":["x","y"]},"info":{"M":{"t":{"N":"41.5"},"l":{"L":[{"S":"p"},{"M":{"q":{"BOOL":true}}},{"NULL":true}]}}}}'
	AKEY='{"id":{"S":"a"}}'
}

# boto3 changes item a: v becomes $1.
other_client_sets_v() {
	ddbtool update "$T" "$AKEY" "SET v = :v" '{":v":{"N":"'"$1"'"}}'
}

@test "a handle read, boto3 changes the item, the handle's write fails with ESTALE at close; boto3's change is kept, the bytes in .a.json.rejected" {
	seed hand
	mount_fs -o cache_ttl=600
	export DDBTOOL T
	cat "$MNT/$T/a.json" >/dev/null
	log_mark
	run "$PY" - "$MNT/$T/a.json" <<-'EOF'
		import errno, os, subprocess, sys
		path = sys.argv[1]
		f = open(path, "r+")
		text = f.read()
		subprocess.run(["/usr/bin/python3", os.environ["DDBTOOL"], "update", os.environ["T"],
		                '{"id":{"S":"a"}}', "SET v = :v", '{":v":{"N":"9"}}'], check=True)
		f.seek(0)
		f.write(text.replace('"v": 1', '"v": 2'))
		try:
		    f.close()
		    print("closed")
		except OSError as e:
		    print(errno.errorcode[e.errno])
	EOF
	assert_output ESTALE
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 9 ]
	# the writer's bytes, whole
	run jq -c '{v, name}' "$MNT/$T/.a.json.rejected"
	assert_output '{"v":2,"name":"dev a"}'
	# the check rode on the one PutItem; the conflict read the item again
	[ "$(requests_since PutItem)" -eq 1 ]
	[ "$(requests_since GetItem)" -eq 1 ]
	grep -E 'WARNING|warning' "$DLOG" | grep -F "/$T/a.json" | grep -q 'changed since this writer read it'
	# the next read shows the other client's version, at once
	log_mark
	run jq .v "$MNT/$T/a.json"
	assert_output 9
	[ "$(requests_since)" -eq 0 ]
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "cat, boto3 changes the item, sed -i fails with Stale file handle; the next sed -i reads the new item and succeeds" {
	seed sed
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	other_client_sets_v 5
	log_mark
	run sed -i 's/"dev a"/"dev b"/' "$MNT/$T/a.json"
	assert_failure
	assert_output --partial "Stale file handle"
	run ddbtool get "$T" "$AKEY"
	assert_output --partial '"v":{"N":"5"}'
	assert_output --partial '"dev a"'
	grep -qF '"dev b"' "$MNT/$T/.a.json.rejected"
	# no request before the conditional put (the kernel's retry of the
	# rename after ESTALE sends its own, and fails the same way)
	[ "$(log_since | grep 'request op=' | head -1 | grep -c 'op=PutItem')" -eq 1 ]
	run sed -i 's/"dev a"/"dev b"/' "$MNT/$T/a.json"
	assert_success
	run ddbtool get "$T" "$AKEY"
	assert_output --partial '"v":{"N":"5"}'
	assert_output --partial '"dev b"'
	# a good write drops the rejected bytes
	[ ! -e "$MNT/$T/.a.json.rejected" ]
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "a rename onto the item (jq > t && mv t f) by a process that never read it expects what the mount last served" {
	seed mv
	mount_fs -o cache_ttl=600
	jq '.v = 3' "$MNT/$T/a.json" >"$MNT/$T/t"
	other_client_sets_v 7
	run fsprobe rename "$MNT/$T/t" "$MNT/$T/a.json"
	assert_output ESTALE
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 7 ]
	# the scratch file is still there, the item shown is boto3's
	[ -e "$MNT/$T/t" ]
	[ "$(jq .v "$MNT/$T/a.json")" = 7 ]
	# the recipe again, from the new item: stored
	jq '.v = 3' "$MNT/$T/a.json" >"$MNT/$T/t2"
	run fsprobe rename "$MNT/$T/t2" "$MNT/$T/a.json"
	assert_output ok
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 3 ]
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "an item deleted by boto3 is not brought back by a write of what was read" {
	seed del
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >"$BATS_TEST_TMPDIR/a.json"
	ddbtool delete "$T" "$AKEY"
	sed 's/"dev a"/"dev c"/' "$BATS_TEST_TMPDIR/a.json" >"$BATS_TEST_TMPDIR/new.json"
	run fsprobe write "$MNT/$T/a.json" "@$BATS_TEST_TMPDIR/new.json"
	assert_output close:ESTALE
	run ddbtool get "$T" "$AKEY"
	assert_output NONE
	cmp "$BATS_TEST_TMPDIR/new.json" "$MNT/$T/.a.json.rejected"
	# the mount shows it gone; a new file there is a new item
	[ ! -e "$MNT/$T/a.json" ]
	run fsprobe write "$MNT/$T/a.json" '{"v": 1}'
	assert_output ok
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 1 ]
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "twenty writes in a row through the mount never conflict with themselves: one PutItem each, nothing else" {
	seed self
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	log_mark
	for i in $(seq 1 10); do
		sed -i "s/\"v\": $i\$/\"v\": $((i + 1))/" "$MNT/$T/a.json"
	done
	# a read-modify-write loop on one handle each time, in one process
	run "$PY" - "$MNT/$T/a.json" <<-'EOF'
		import json, sys
		for _ in range(10):
		    with open(sys.argv[1], "r+") as f:
		        item = json.load(f)
		        item["v"] += 1
		        f.seek(0)
		        f.truncate()
		        json.dump(item, f, indent=2)
		print("done")
	EOF
	assert_output done
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 21 ]
	[ "$(requests_since PutItem)" -eq 20 ]
	[ "$(requests_since)" -eq 20 ]
	# nested values, sets and numbers survived, so each condition held
	run ddbtool get-norm "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"info":{"M":{"l":{"L":[{"S":"p"},{"M":{"q":{"BOOL":true}}},{"NULL":true}]},"t":{"N":"41.5"}}},"name":{"S":"dev a"},"tags":{"SS":["x","y"]},"v":{"N":"21"}}'
}

@test "a change deep in a nested map, or in a set, is noticed" {
	seed deep
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	ddbtool update "$T" "$AKEY" "SET info.l[1].q = :f" '{":f":{"BOOL":false}}'
	run fsprobe write "$MNT/$T/a.json" '{"v": 2}'
	assert_output close:ESTALE
	cat "$MNT/$T/a.json" >/dev/null
	ddbtool update "$T" "$AKEY" "ADD tags :t" '{":t":{"SS":["z"]}}'
	run fsprobe write "$MNT/$T/a.json" '{"v": 2}'
	assert_output close:ESTALE
	# an element added to a nested list changes its size
	cat "$MNT/$T/a.json" >/dev/null
	ddbtool update "$T" "$AKEY" "SET info.l = list_append(info.l, :e)" '{":e":{"L":[{"S":"r"}]}}'
	run fsprobe write "$MNT/$T/a.json" '{"v": 2}'
	assert_output close:ESTALE
	run ddbtool get "$T" "$AKEY"
	assert_output --partial '"v":{"N":"1"}'
	# read again: stored
	cat "$MNT/$T/a.json" >/dev/null
	run fsprobe write "$MNT/$T/a.json" '{"v": 2}'
	assert_output ok
	run ddbtool get "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"v":{"N":"2"}}'
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "an item with more attributes than one condition holds: the rest is compared by one consistent read before the put" {
	T=$(uniq_table wide)
	ddbtool create "$T" id:S
	ddbtool put "$T" "$(jq -nc '{id: {S: "a"}} + ([range(300)] | map({key: ("attribute_" + (1000 + . | tostring)[1:]), value: {N: (. | tostring)}}) | from_entries)')"
	AKEY='{"id":{"S":"a"}}'
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	# the last attribute is past what the expression holds
	ddbtool update "$T" "$AKEY" "SET attribute_299 = :v" '{":v":{"N":"-1"}}'
	log_mark
	run sed -i 's/"attribute_000": 0/"attribute_000": 5/' "$MNT/$T/a.json"
	assert_failure
	assert_output --partial "Stale file handle"
	# the consistent read found it: no put was sent
	[ "$(requests_since PutItem)" -eq 0 ]
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .attribute_000.N)" = 0 ]
	# unchanged since read: one consistent read and one put
	log_mark
	run sed -i 's/"attribute_000": 0/"attribute_000": 5/' "$MNT/$T/a.json"
	assert_success
	[ "$(requests_since PutItem)" -eq 1 ]
	[ "$(requests_since GetItem)" -eq 1 ]
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .attribute_000.N)" = 5 ]
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .attribute_299.N)" = -1 ]
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "mv onto an item boto3 changed fails with ESTALE and changes neither item" {
	seed mvi
	ddbtool put "$T" '{"id":{"S":"b"},"v":{"N":"1"}}'
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/b.json" >/dev/null
	ddbtool put "$T" '{"id":{"S":"b"},"v":{"N":"2"}}'
	run fsprobe rename "$MNT/$T/a.json" "$MNT/$T/b.json"
	assert_output ESTALE
	[ "$(ddbtool get "$T" '{"id":{"S":"b"}}' | jq -r .v.N)" = 2 ]
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 1 ]
	# after a read of the new b, the move replaces it
	cat "$MNT/$T/b.json" >/dev/null
	run fsprobe rename "$MNT/$T/a.json" "$MNT/$T/b.json"
	assert_output ok
	run ddbtool get "$T" "$AKEY"
	assert_output NONE
	[ "$(ddbtool get "$T" '{"id":{"S":"b"}}' | jq -r .name.S)" = "dev a" ]
	EXPECT_LOG='not moved'
}

@test "version_attribute: each write stores it incremented; a bump by boto3 makes the next stale write fail" {
	T=$(uniq_table ver)
	ddbtool create "$T" id:S
	AKEY='{"id":{"S":"a"}}'
	mount_fs -o version_attribute=ver,cache_ttl=600
	printf '{"v": 1}\n' >"$MNT/$T/a.json"
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .ver.N)" = 1 ]
	sed -i 's/"v": 1/"v": 2/' "$MNT/$T/a.json"
	run ddbtool get "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"v":{"N":"2"},"ver":{"N":"2"}}'
	[ "$(jq .ver "$MNT/$T/a.json")" = 2 ]
	# a client that keeps the attribute: only the version moves
	ddbtool update "$T" "$AKEY" "SET ver = ver + :one" '{":one":{"N":"1"}}'
	run fsprobe write "$MNT/$T/a.json" '{"v": 3, "ver": 2}'
	assert_output close:ESTALE
	run ddbtool get "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"v":{"N":"2"},"ver":{"N":"3"}}'
	# an attribute added with the bump
	cat "$MNT/$T/a.json" >/dev/null
	ddbtool update "$T" "$AKEY" "SET ver = ver + :one, extra = :one" '{":one":{"N":"1"}}'
	run fsprobe write "$MNT/$T/a.json" '{"v": 3, "ver": 3}'
	assert_output close:ESTALE
	# the condition is the version alone: one PutItem, and after a read
	# the write goes through with the version the file claims ignored
	cat "$MNT/$T/a.json" >/dev/null
	log_mark
	run fsprobe write "$MNT/$T/a.json" '{"v": 3, "ver": 100}'
	assert_output ok
	[ "$(requests_since)" -eq 1 ]
	run ddbtool get "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"v":{"N":"3"},"ver":{"N":"5"}}'
	EXPECT_LOG='changed since this writer read it|not stored'
}

@test "version_attribute: a stored version that is not a number is refused, nothing sent" {
	T=$(uniq_table vbad)
	ddbtool create "$T" id:S
	AKEY='{"id":{"S":"a"}}'
	ddbtool put "$T" '{"id":{"S":"a"},"ver":{"S":"seven"}}'
	mount_fs -o version_attribute=ver
	cat "$MNT/$T/a.json" >/dev/null
	log_mark
	run fsprobe write "$MNT/$T/a.json" '{"v": 1}'
	assert_output close:EINVAL
	[ "$(requests_since PutItem)" -eq 0 ]
	run ddbtool get "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"ver":{"S":"seven"}}'
	grep -q 'version attribute "ver" is not a whole number' "$DLOG"
	EXPECT_LOG='not a whole number'
}

@test "conflicts=overwrite: the last close wins" {
	seed over
	mount_fs -o conflicts=overwrite,cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	other_client_sets_v 5
	run fsprobe write "$MNT/$T/a.json" '{"v": 2}'
	assert_output ok
	run ddbtool get "$T" "$AKEY"
	assert_output '{"id":{"S":"a"},"v":{"N":"2"}}'
}

@test "a bad conflicts= value is refused at mount" {
	run "$DYNAMOFS" "$DYNAMOFS_ENDPOINT" "$BATS_TEST_TMPDIR" -f -o conflicts=maybe
	assert_failure
	assert_output "dynamofs: bad option conflicts=maybe: use check or overwrite"
	run "$DYNAMOFS" "$DYNAMOFS_ENDPOINT" "$BATS_TEST_TMPDIR" -f -o version_attribute=
	assert_failure
	assert_output --partial "bad option version_attribute="
}

@test "an item renamed away (mv x x~) and changed by boto3: mv x~ x puts nothing back, rm x~ deletes nothing" {
	seed away
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/a.json" >/dev/null
	mv "$MNT/$T/a.json" "$MNT/$T/a.json~"
	other_client_sets_v 6
	log_mark
	mv "$MNT/$T/a.json~" "$MNT/$T/a.json"
	[ "$(requests_since PutItem)" -eq 0 ]
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 6 ]
	[ "$(jq .v "$MNT/$T/a.json")" = 6 ]
	[ ! -e "$MNT/$T/a.json~" ]
	mv "$MNT/$T/a.json" "$MNT/$T/a.json~"
	other_client_sets_v 4
	run fsprobe unlink "$MNT/$T/a.json~"
	assert_output ok
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 4 ]
	[ "$(jq .v "$MNT/$T/a.json")" = 4 ]
	# unchanged since: removing the renamed file deletes it, as before
	mv "$MNT/$T/a.json" "$MNT/$T/a.json~"
	rm "$MNT/$T/a.json~"
	run ddbtool get "$T" "$AKEY"
	assert_output NONE
	EXPECT_LOG='not deleted'
}

@test "a shell's own redirections never conflict with each other, nor with an rm in between" {
	T=$(uniq_table shell)
	ddbtool create "$T" id:S
	mount_fs -o cache_ttl=600
	# one bash process does every redirection: it never reads the item
	run bash -c '
		set -e
		echo "{\"a\": 1}" >"$1/f.json"
		sed -i "s/1/2/" "$1/f.json"
		echo "{\"a\": 3}" >"$1/f.json"
		exec 3>"$1/f.json"; echo "{\"a\": 4}" >&3; exec 3>&-
		rm "$1/f.json"
		echo "{\"a\": 5}" >"$1/f.json"
		cat "$1/f.json" >/dev/null
		echo "{\"a\": 6}" >"$1/f.json"
	' _ "$MNT/$T"
	assert_success
	[ "$(ddbtool get "$T" '{"id":{"S":"f"}}' | jq -r .a.N)" = 6 ]
	[ ! -e "$MNT/$T/.f.json.rejected" ]
	! grep -q 'changed since' "$DLOG"
}

@test "a name a rename hid (mv f f.orig; jq . f.orig > f) is written over what the mount knows is there" {
	seed hide
	ddbtool put "$T" '{"id":{"S":"g"},"v":{"N":"7"}}'
	mount_fs -o cache_ttl=600
	mv "$MNT/$T/a.json" "$MNT/$T/a.orig"
	jq '.v = 2' "$MNT/$T/a.orig" >"$MNT/$T/a.json"
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 2 ]
	mv "$MNT/$T/a.json" "$MNT/$T/a~"
	# mv -n renames with RENAME_NOREPLACE (plain mv may too): the name
	# is free here, and the item renamed away is what it replaces
	mv -n "$MNT/$T/g.json" "$MNT/$T/a.json"
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 7 ]
	run ddbtool get "$T" '{"id":{"S":"g"}}'
	assert_output NONE
	# a scratch file renamed with RENAME_NOREPLACE onto a hidden name
	mv "$MNT/$T/a.json" "$MNT/$T/a~2"
	echo '{"v": 9}' >"$MNT/$T/new.tmp"
	mv -n "$MNT/$T/new.tmp" "$MNT/$T/a.json"
	[ "$(ddbtool get "$T" "$AKEY" | jq -r .v.N)" = 9 ]
	! grep -q 'changed since' "$DLOG"
}
