#!/usr/bin/env bats
# browse.bats - the read side through a real mount: boto3 writes, ls/cat/find
# read, and the debug log shows what each step cost in requests.

load helpers

setup() {
	clean_aws_env
	local_creds
}

teardown() {
	cleanup_mount
}

devices_table() {
	DEV=$(uniq_table Devices)
	ddbtool create "$DEV" device_id:S datacount:N
	devices_jq -e 'length > 0' >/dev/null
	ddbtool load "$DEV" "$DEVICES_JSON"
}

@test "root lists the tables boto3 made; .table.json opens but is not listed" {
	devices_table
	mount_fs
	run ls "$MNT"
	assert_success
	assert_line "$DEV"
	run ls -a "$MNT/$DEV"
	assert_success
	refute_output --partial .table.json
	run jq -r '.TableName, (.KeySchema | map(.AttributeName) | join(","))' "$MNT/$DEV/.table.json"
	assert_success
	assert_output "$DEV
device_id,datacount"
	run sh -c "echo x > '$MNT/$DEV/.table.json'"
	assert_failure
	unmount_fs
}

@test "Devices: partitions are directories, items are files, cat shows what boto3 wrote" {
	devices_table
	mount_fs
	run ls "$MNT/$DEV"
	assert_success
	assert_output "$(devices_jq -r '[.[].device_id] | unique | .[]')"
	assert_output "10001
10002
10003"
	run ls "$MNT/$DEV/10001"
	assert_output "$(devices_jq -r '.[] | select(.device_id == "10001") | "\(.datacount).json"' | sort)"
	# every item of the file: what boto3 reads, rendered, and the file's own values
	while read -r id n <&3; do
		expected=$(ddbtool render "$DEV" "{\"device_id\":{\"S\":\"$id\"},\"datacount\":{\"N\":\"$n\"}}" device_id datacount)
		run cat "$MNT/$DEV/$id/$n.json"
		assert_success
		assert_output "$expected"
		[ "$(jq -cS . <<<"$output")" = "$(devices_jq -cS ".[] | select(.device_id == \"$id\" and .datacount == $n)")" ]
	done 3< <(devices_jq -r '.[] | "\(.device_id) \(.datacount)"')
	# sizes are exact, and jq reads the numbers as written
	[ "$(stat -c %s "$MNT/$DEV/10001/1.json")" -eq "$(wc -c <"$MNT/$DEV/10001/1.json")" ]
	run jq -r '.info.temperature2' "$MNT/$DEV/10001/1.json"
	assert_output 21.31
	run find "$MNT/$DEV" -type f
	[ "${#lines[@]}" -eq "$(devices_jq length)" ]
	t=$(devices_jq -r '.[] | select(.device_id == "10003" and .datacount == 1) | .info.temperature1')
	[ "$(devices_jq "[.[] | select(.info.temperature1 == $t)] | length")" -eq 1 ]
	run grep -rl "\"temperature1\": $t" "$MNT/$DEV"
	assert_output "$MNT/$DEV/10003/1.json"
	unmount_fs
}

@test "the boto3 guide's users table, keyed by username and last_name" {
	T=$(uniq_table users)
	ddbtool create "$T" username:S last_name:S
	ddbtool put "$T" '{"username":{"S":"janedoe"},"first_name":{"S":"Jane"},"last_name":{"S":"Doe"},"age":{"N":"25"},"account_type":{"S":"standard_user"}}'
	ddbtool put "$T" '{"username":{"S":"johndoe"},"first_name":{"S":"John"},"last_name":{"S":"Doe"},"age":{"N":"25"},"account_type":{"S":"standard_user"},"address":{"M":{"road":{"S":"1 Jefferson Street"},"city":{"S":"Los Angeles"},"state":{"S":"CA"},"zipcode":{"N":"90001"}}}}'
	mount_fs
	run cat "$MNT/$T/janedoe/Doe.json"
	assert_success
	assert_output '{
  "username": "janedoe",
  "last_name": "Doe",
  "account_type": "standard_user",
  "age": 25,
  "first_name": "Jane"
}'
	run jq -r .address.zipcode "$MNT/$T/johndoe/Doe.json"
	assert_output 90001
	unmount_fs
}

@test "every type and edge value reads back exactly (plain format)" {
	T=$(uniq_table types)
	ddbtool create "$T" id:S
	deep='{"S":"bottom"}'
	for _ in $(seq 1 30); do deep="{\"M\":{\"d\":$deep}}"; done
	item='{"id":{"S":"all"},
	  "n38":{"N":"12345678901234567890123456789012345678"},
	  "neg":{"N":"-98765432109876543210.123456789012345678"},
	  "tiny":{"N":"1E-130"},
	  "huge":{"N":"9.9999999999999999999999999999999999999E+125"},
	  "tenth":{"N":"0.1"},
	  "empty":{"S":""},
	  "uni":{"S":"héllo wörld ✓ 😀 \"quoted\" back\\slash\ttab"},
	  "bin":{"B":"AAEC/f7/"},
	  "ss":{"SS":["b","a","c"]},
	  "ns":{"NS":["10","-1","2.5"]},
	  "bs":{"BS":["AQ==","AA=="]},
	  "tag":{"M":{"$SS":{"S":"not a set"}}},
	  "bool":{"BOOL":true}, "nul":{"NULL":true},
	  "list":{"L":[{"N":"1"},{"S":"two"},{"L":[]},{"M":{}}]},
	  "deep":'"$deep"'}'
	ddbtool put "$T" "$item"
	mount_fs
	expected=$(ddbtool render "$T" '{"id":{"S":"all"}}' id)
	run cat "$MNT/$T/all.json"
	assert_success
	assert_output "$expected"
	# numbers compared as text, never through a double: the server's
	# digits (boto3 reads them as strings) are the file's digits
	for a in n38 neg tiny huge tenth; do
		want=$(ddbtool get "$T" '{"id":{"S":"all"}}' | jq -r ".$a.N")
		run grep -F "\"$a\": $want," "$MNT/$T/all.json"
		assert_success
	done
	run grep -F '"n38": 12345678901234567890123456789012345678,' "$MNT/$T/all.json"
	assert_success
	run jq -c '.tag, .ss, .bin' "$MNT/$T/all.json"
	assert_line '{"$M":{"$SS":"not a set"}}'
	assert_line '{"$SS":["a","b","c"]}'
	assert_line '{"$B":"AAEC/f7/"}'
	unmount_fs
}

@test "format=ddb shows DynamoDB JSON" {
	T=$(uniq_table ddbfmt)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"n":{"N":"1.50"},"s":{"SS":["x"]}}'
	mount_fs -o format=ddb
	run jq -c . "$MNT/$T/a.json"
	assert_success
	assert_output '{"id":{"S":"a"},"n":{"N":"1.5"},"s":{"SS":["x"]}}'
	unmount_fs
}

@test "key names: slash, percent, leading dot, unicode, long keys, number and binary keys" {
	T=$(uniq_table names)
	ddbtool create "$T" p:S s:S
	long=$(printf 'x%.0s' $(seq 1 300))
	for s in "a/b" "100%" ".hidden" "naïve ☃" "$long"; do
		ddbtool put "$T" "$(jq -cn --arg s "$s" '{p:{S:"part"}, s:{S:$s}, v:{S:$s}}')"
	done
	N=$(uniq_table numkeys)
	ddbtool create "$N" n:N
	ddbtool put "$N" '{"n":{"N":"-12.5"}}'
	ddbtool put "$N" '{"n":{"N":"42"}}'
	B=$(uniq_table binkeys)
	ddbtool create "$B" b:B
	ddbtool put "$B" '{"b":{"B":"+/8="}}'
	mount_fs
	run ls "$MNT/$T/part"
	assert_success
	assert_line "a%2Fb.json"
	assert_line "100%25.json"
	assert_line "%2Ehidden.json"
	assert_line "naïve ☃.json"
	short=$(ls "$MNT/$T/part" | grep '^xxx')
	[ "${#short}" -le 255 ]
	[[ "$short" =~ ^x{200}~[0-9a-f]{16}\.json$ ]]
	run jq -r .v "$MNT/$T/part/a%2Fb.json"
	assert_output "a/b"
	run jq -r .v "$MNT/$T/part/$short"
	assert_output "$long"
	run getfattr --absolute-names --only-values -n user.dynamodb.key "$MNT/$T/part/%2Ehidden.json"
	assert_output '{"p":{"S":"part"},"s":{"S":".hidden"}}'
	run ls "$MNT/$N"
	assert_output "-12.5.json
42.json"
	run ls "$MNT/$B"
	assert_output "-_8.json"
	run jq -c .b "$MNT/$B/-_8.json"
	assert_output '{"$B":"+/8="}'
	unmount_fs
}

@test "cat of a whole partition is one Query and no GetItem" {
	devices_table
	# a cache time no test step can outlast (the test times out first):
	# the counts must not depend on how fast the machine is
	mount_fs -o cache_ttl=3600
	log_mark
	run sh -c "cat '$MNT/$DEV'/10001/*"
	assert_success
	[ "$(requests_since Query)" -eq 1 ]
	[ "$(requests_since GetItem)" -eq 0 ]
	# and within cache_ttl a second ls -l sends nothing
	ls -l "$MNT/$DEV/10001" >/dev/null
	log_mark
	ls -l "$MNT/$DEV/10001" >/dev/null
	[ "$(requests_since)" -eq 0 ]
	unmount_fs
}

@test "reading a whole small table is its Scan: cp -r out of the mount sends no Query or GetItem and equals boto3's items" {
	devices_table
	# a cache time no test step can outlast: the Scan's items are still
	# cached when cp reads them, however slow the machine
	mount_fs -o cache_ttl=3600
	log_mark
	cp -r "$MNT/$DEV" "$BATS_TEST_TMPDIR/copy"
	[ "$(requests_since Query)" -eq 0 ]
	[ "$(requests_since GetItem)" -eq 0 ]
	scans=$(requests_since Scan)
	[ "$scans" -ge 1 ] && [ "$scans" -le 2 ]
	ddbtool render-tree "$DEV" "$BATS_TEST_TMPDIR/want"
	diff -r "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/copy"
	[ "$(find "$BATS_TEST_TMPDIR/copy" -name '*.json' | wc -l)" -eq "$(devices_jq length)" ]
	unmount_fs
}

@test "a table larger than an eighth of cache_size is not kept whole: its partitions are read by Query" {
	T=$(uniq_table wide)
	ddbtool create "$T" pk:S sk:S
	for p in a b c d; do
		ddbtool fill-part "$T" 40 "$p" i 1000
	done
	# 160 items of ~1 KB: over 128 KiB, an eighth of cache_size=1; a
	# cache time no test step can outlast, so each Query's items are
	# still cached when cat reads them
	mount_fs -o cache_size=1,cache_ttl=3600
	log_mark
	find "$MNT/$T" -name '*.json' -exec cat {} + >"$BATS_TEST_TMPDIR/all"
	[ "$(requests_since Query)" -eq 4 ]
	[ "$(requests_since GetItem)" -eq 0 ]
	[ "$(grep -c '"pad"' "$BATS_TEST_TMPDIR/all")" -eq 160 ]
	unmount_fs
}

# Opens DIR, reads its first N names and closes it, as a reader that stops
# early does.
read_some() {
	/usr/bin/python3 -c '
import os, sys
with os.scandir(sys.argv[1]) as it:
    for _, e in zip(range(int(sys.argv[2])), it):
        print(e.name)
' "$1" "$2"
}

@test "a listing reads only as it is read: ls -U | head -1 of a table of 6 Scan pages costs at most two Scans, also after it is closed" {
	T=$(uniq_table big)
	ddbtool create "$T" pk:S
	# ~300-byte items: about 3,400 to a 1 MB page, 54 KB of names, so ls
	# blocks on the pipe (64 KB) before it can read a third page
	ddbtool fill "$T" 20000 item- 280
	pages=$(ddbtool scan-pages "$T")
	echo "pages: $pages"
	[ "$pages" -ge 5 ]
	mount_fs
	ls "$MNT" >/dev/null
	log_mark
	run env --default-signal=PIPE sh -c "ls -U '$MNT/$T' | head -1"
	assert_success
	[[ "$output" == item-*.json ]]
	# once the daemon has exited, the log holds every request it sent
	unmount_fs
	scans=$(requests_since Scan)
	echo "ls -U | head -1: $scans Scans"
	[ "$scans" -ge 1 ] && [ "$scans" -le 2 ]

	# a reader that takes one name and closes the directory: one page
	mount_fs
	ls "$MNT" >/dev/null
	log_mark
	run read_some "$MNT/$T" 1
	assert_success
	[[ "$output" == item-*.json ]]
	unmount_fs
	scans=$(requests_since Scan)
	echo "one name: $scans Scans"
	[ "$scans" -eq 1 ]

	# one that takes 7,000 names: the pages that hold them, and at most
	# one more (getdents fills its buffer a few hundred names ahead)
	need=$(ddbtool scan-pages "$T" 7000)
	mount_fs
	ls "$MNT" >/dev/null
	log_mark
	run read_some "$MNT/$T" 7000
	assert_success
	[ "${#lines[@]}" -eq 7000 ]
	unmount_fs
	scans=$(requests_since Scan)
	echo "7,000 names in $need pages: $scans Scans"
	[ "$scans" -ge "$need" ] && [ "$scans" -le $((need + 1)) ]
}

@test "a full listing of a table of several pages reads each page once, names every item once, and fills the item cache" {
	T=$(uniq_table full)
	ddbtool create "$T" pk:S
	ddbtool fill "$T" 20000 item- 280
	pages=$(ddbtool scan-pages "$T")
	[ "$pages" -ge 5 ]
	ddbtool scan-keys "$T" | jq -r '.pk.S + ".json"' | sort >"$BATS_TEST_TMPDIR/want"
	# a cache time no test step can outlast: what follows must not
	# depend on how fast the machine is
	mount_fs -o cache_ttl=3600
	ls "$MNT" >/dev/null
	log_mark
	ls "$MNT/$T" >"$BATS_TEST_TMPDIR/names"
	sort "$BATS_TEST_TMPDIR/names" | diff "$BATS_TEST_TMPDIR/want" -
	[ "$(requests_since Scan)" -eq "$pages" ]
	log_mark
	find "$MNT/$T" -name 'item-1*.json' -exec cat {} + >"$BATS_TEST_TMPDIR/all"
	[ "$(grep -c '"pad"' "$BATS_TEST_TMPDIR/all")" -eq "$(grep -c '^item-1' "$BATS_TEST_TMPDIR/want")" ]
	for k in item-0 item-19999 item-777; do
		run cat "$MNT/$T/$k.json"
		assert_output "$(ddbtool render "$T" "{\"pk\":{\"S\":\"$k\"}}" pk)"
	done
	[ "$(requests_since GetItem)" -eq 0 ]
	[ "$(requests_since Scan)" -eq 0 ]
	unmount_fs
}

@test "a partition of several pages: a reader that stops early costs at most two Queries; a full listing names every item once" {
	T=$(uniq_table qpages)
	ddbtool create "$T" p:S s:S
	ddbtool fill-part "$T" 2500 P i 1000
	pages=$(ddbtool query-pages "$T" p P)
	[ "$pages" -ge 3 ]
	mount_fs -o cache_ttl=3600
	ls "$MNT" >/dev/null
	log_mark
	run read_some "$MNT/$T/P" 1
	assert_success
	[[ "$output" == i*.json ]]
	unmount_fs
	echo "pages: $pages, queries: $(requests_since Query)"
	[ "$(requests_since Query)" -ge 1 ] && [ "$(requests_since Query)" -le 2 ]

	mount_fs -o cache_ttl=3600
	ls "$MNT" >/dev/null
	log_mark
	ls "$MNT/$T/P" >"$BATS_TEST_TMPDIR/names"
	seq 0 2499 | sed 's/^/i/; s/$/.json/' | sort | diff - <(sort "$BATS_TEST_TMPDIR/names")
	[ "$(requests_since Query)" -eq "$pages" ]
	log_mark
	cat "$MNT/$T/P"/i1*.json >/dev/null
	[ "$(requests_since GetItem)" -eq 0 ]
	[ "$(requests_since Query)" -eq 0 ]
	unmount_fs
}

@test "a change by boto3 shows after cache_ttl; consistent_read shows it at once" {
	T=$(uniq_table fresh)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	# The test moves the mount's expiry clock past cache_ttl itself (no
	# waiting). The kernel keeps the file's attributes for cache_ttl (it
	# is not moved), so the new value has the old one's size; each open
	# still reaches the daemon.
	export DYNAMOFS_TEST_CLOCK=1
	mount_fs -o cache_ttl=600
	run jq .v "$MNT/$T/a.json"
	assert_output 1
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"2"}}'
	# within cache_ttl: the cached item
	run jq .v "$MNT/$T/a.json"
	assert_output 1
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	log_mark
	run jq .v "$MNT/$T/a.json"
	assert_output 2
	[ "$(requests_since GetItem)" -eq 1 ]
	unmount_fs
	unset DYNAMOFS_TEST_CLOCK

	mount_fs -o consistent_read
	run jq .v "$MNT/$T/a.json"
	assert_output 2
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"3"}}'
	run jq .v "$MNT/$T/a.json"
	assert_output 3
	unmount_fs
}

@test "modification time stays while content is unchanged and moves when it changes" {
	T=$(uniq_table mtime)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	# cache_ttl=0: neither the kernel nor the daemon keeps the item, so
	# every stat is a GetItem (the test clock cannot expire the kernel's
	# attributes). mtime is the wall-clock second the content was first
	# seen: wait (bounded) for the next second, not a fixed time.
	mount_fs -o cache_ttl=0
	m1=$(stat -c %Y "$MNT/$T/a.json")
	local deadline=$((SECONDS + 5))
	while [ "$(date +%s)" -le "$m1" ]; do
		[ "$SECONDS" -lt "$deadline" ] || fail "the clock did not pass $m1"
		sleep 0.05
	done
	log_mark
	m2=$(stat -c %Y "$MNT/$T/a.json")
	[ "$(requests_since GetItem)" -ge 1 ]
	[ "$m1" -eq "$m2" ]
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"22"}}'
	log_mark
	m3=$(stat -c %Y "$MNT/$T/a.json")
	[ "$(requests_since GetItem)" -ge 1 ]
	[ "$m3" -gt "$m1" ]
	unmount_fs
}

@test "a missing item, table or partition is ENOENT" {
	devices_table
	mount_fs
	run cat "$MNT/$DEV/10001/99.json"
	assert_failure
	assert_output --partial "No such file"
	run ls "$MNT/nosuchtable"
	assert_failure
	run ls "$MNT/$DEV/99999"
	assert_failure
	unmount_fs
}

@test "tables= shows only the named tables" {
	devices_table
	T=$(uniq_table other)
	ddbtool create "$T" id:S
	mount_fs -o "tables=$DEV"
	run ls "$MNT"
	assert_output "$DEV"
	run ls "$MNT/$T"
	assert_failure
	unmount_fs
}

@test "a table deleted under the mount: ENOENT, and the daemon goes on" {
	devices_table
	# The test moves the mount's expiry clock past cache_ttl itself (no
	# waiting); the kernel still holds the names, and each listing
	# reaches the daemon.
	export DYNAMOFS_TEST_CLOCK=1
	mount_fs -o cache_ttl=600
	ls "$MNT/$DEV/10001" >/dev/null
	ddbtool delete-table "$DEV"
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	run ls "$MNT/$DEV/10001"
	assert_failure
	assert_output --partial "No such file"
	run ls "$MNT"
	assert_success
	refute_line "$DEV"
	EXPECT_LOG='ResourceNotFoundException' unmount_fs
}

@test "a server that stops: EIO after retries, the daemon recovers when it is back" {
	. "$DYNAMOFS_ROOT/scripts/lib/common.sh"
	server_start dynalite "$BATS_TEST_TMPDIR/own-server.log"
	own=$SERVER_ENDPOINT
	port=${own##*:}
	DYNAMOFS_ENDPOINT=$own ddbtool create stopme id:S
	DYNAMOFS_ENDPOINT=$own ddbtool put stopme '{"id":{"S":"a"},"v":{"N":"1"}}'
	MOUNT_SOURCE=$own mount_fs -o cache_ttl=0,retries=2,timeout=2
	run cat "$MNT/stopme/a.json"
	assert_success
	server_stop
	run cat "$MNT/stopme/a.json"
	assert_failure
	assert_output --partial "Input/output error"
	kill -0 "$DYNAMOFS_PID"
	"$DYNALITE_BIN" --host 127.0.0.1 --port "$port" >"$BATS_TEST_TMPDIR/own2.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 1 100); do curl -s -o /dev/null "$own" && break; sleep 0.1; done
	DYNAMOFS_ENDPOINT=$own ddbtool create stopme id:S
	DYNAMOFS_ENDPOINT=$own ddbtool put stopme '{"id":{"S":"a"},"v":{"N":"7"}}'
	run jq .v "$MNT/stopme/a.json"
	assert_output 7
	server_stop
	EXPECT_LOG='connect|refused|reach' unmount_fs
}
