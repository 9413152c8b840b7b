#!/usr/bin/env bats
# edit.bats - the write side through a real mount (SPEC §5): each file system
# call, what boto3 sees after it, the errno a program gets (tests/tools/
# fsprobe.py prints it), and the requests the debug log shows.

load helpers

setup() {
	clean_aws_env
	local_creds
}

teardown() {
	cleanup_mount
}

# The log lines after log_mark.
log_since() {
	tail -n +"$((LOG_MARK + 1))" "$DLOG"
}

# Requests that change data, after log_mark.
writes_since() {
	log_since | grep -cE 'request op=(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems|CreateTable|DeleteTable)' || true
}

# reject PATH TABLE KEY ERRNO LOGRE CONTENTFILE: writing CONTENTFILE's bytes
# to $MNT/PATH fails at close with ERRNO, nothing is sent, the stored item
# (KEY, DynamoDB JSON) is unchanged, one log line names the file and matches
# LOGRE, and the bytes are readable as .NAME.rejected next to the file.
reject() {
	local path=$1 table=$2 key=$3 want=$4 re=$5 content=$6
	local base=${path##*/} dir before after
	dir=$(dirname "$MNT/$path")
	before=$(ddbtool get "$table" "$key")
	log_mark
	run fsprobe write "$MNT/$path" "@$content"
	assert_output "close:$want"
	after=$(ddbtool get "$table" "$key")
	assert_equal "$after" "$before"
	assert_equal "$(writes_since)" 0
	run grep -F "$base" <(log_since)
	assert_success
	if ! grep -F "$base" <(log_since) | grep -Eqi -- "$re"; then
		echo "no log line names $base and matches /$re/:" >&2
		log_since | grep -v 'request op=' >&2
		return 1
	fi
	cmp "$content" "$dir/.$base.rejected"
}

@test "write + close is a PutItem of the whole file; the key comes from the path" {
	T=$(uniq_table wr)
	ddbtool create "$T" id:S
	U=$(uniq_table wrps)
	ddbtool create "$U" p:S s:S
	N=$(uniq_table wrnum)
	ddbtool create "$N" n:N
	mount_fs
	log_mark
	printf '{"v": 1}' >"$MNT/$T/a.json"
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	[ "$(requests_since PutItem)" -eq 1 ]
	# O_TRUNC of an existing item sends nothing of its own: one PutItem
	log_mark
	printf '{"v": 2}' >"$MNT/$T/a.json"
	[ "$(requests_since PutItem)" -eq 1 ]
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"2"}}'
	# the key attributes may also be written out, when they agree
	mkdir "$MNT/$U/P1"
	printf '{"p": "P1", "s": "x", "w": "hello"}\n' >"$MNT/$U/P1/x.json"
	run ddbtool get "$U" '{"p":{"S":"P1"},"s":{"S":"x"}}'
	assert_output '{"p":{"S":"P1"},"s":{"S":"x"},"w":{"S":"hello"}}'
	printf '{"v": -0.50}' >"$MNT/$N/42.json"
	run ddbtool get "$N" '{"n":{"N":"42"}}'
	assert_output '{"n":{"N":"42"},"v":{"N":"-0.5"}}'
	unmount_fs
}

@test "every type written as a plain file reaches DynamoDB exactly" {
	T=$(uniq_table wrtypes)
	ddbtool create "$T" id:S
	mount_fs
	cat >"$MNT/$T/all.json" <<'EOT'
{
  "id": "all",
  "n38": 12345678901234567890123456789012345678,
  "neg": -98765432109876543210.123456789012345678,
  "tiny": 1E-130,
  "huge": 9.9999999999999999999999999999999999999E+125,
  "tenth": 0.1,
  "empty": "",
  "uni": "héllo ✓ 😀 \"q\" \\ \t",
  "bin": {"$B": "AAEC/f7/"},
  "ss": {"$SS": ["b", "a"]},
  "ns": {"$NS": [10, -1, 2.5]},
  "bs": {"$BS": ["AQ==", "AA=="]},
  "tag": {"$M": {"$SS": "not a set"}},
  "bool": true,
  "nul": null,
  "list": [1, "two", [], {}],
  "map": {"b": {"c": false}, "a": []}
}
EOT
	# the same values put by boto3 are the reference (servers differ in how
	# they print numbers: both expand 1E-130)
	ddbtool put "$T" '{"id":{"S":"ref"},"n38":{"N":"12345678901234567890123456789012345678"},"neg":{"N":"-98765432109876543210.123456789012345678"},"tiny":{"N":"1E-130"},"huge":{"N":"9.9999999999999999999999999999999999999E+125"},"tenth":{"N":"0.1"},"empty":{"S":""},"uni":{"S":"héllo ✓ 😀 \"q\" \\ \t"},"bin":{"B":"AAEC/f7/"},"ss":{"SS":["a","b"]},"ns":{"NS":["-1","2.5","10"]},"bs":{"BS":["AA==","AQ=="]},"tag":{"M":{"$SS":{"S":"not a set"}}},"bool":{"BOOL":true},"nul":{"NULL":true},"list":{"L":[{"N":"1"},{"S":"two"},{"L":[]},{"M":{}}]},"map":{"M":{"a":{"L":[]},"b":{"M":{"c":{"BOOL":false}}}}}}'
	want=$(ddbtool get-norm "$T" '{"id":{"S":"ref"}}' | sed 's/"id":{"S":"ref"}/"id":{"S":"all"}/')
	[[ "$want" == *'"tag":{"M":{"$SS":{"S":"not a set"}}}'* ]]
	run ddbtool get-norm "$T" '{"id":{"S":"all"}}'
	assert_output "$want"
	unmount_fs
}

@test "what is shown can be written back unchanged (plain and ddb format)" {
	T=$(uniq_table wrback)
	ddbtool create "$T" id:S
	deep='{"S":"bottom"}'
	for _ in $(seq 1 31); do deep="{\"M\":{\"d\":$deep}}"; done
	ddbtool put "$T" '{"id":{"S":"all"},"n":{"N":"1E+125"},"s":{"SS":["x","y"]},"b":{"BS":["AQ=="]},"e":{"S":""},"m":{"M":{"$B":{"S":"tag"}}},"deep":'"$deep"'}'
	before=$(ddbtool get-norm "$T" '{"id":{"S":"all"}}')
	mount_fs
	cp "$MNT/$T/all.json" "$BATS_TEST_TMPDIR/all.json"
	log_mark
	cat "$BATS_TEST_TMPDIR/all.json" >"$MNT/$T/all.json"
	[ "$(requests_since PutItem)" -eq 1 ]
	run ddbtool get-norm "$T" '{"id":{"S":"all"}}'
	assert_output "$before"
	unmount_fs
	mount_fs -o format=ddb
	cp "$MNT/$T/all.json" "$BATS_TEST_TMPDIR/all.ddb"
	cat "$BATS_TEST_TMPDIR/all.ddb" >"$MNT/$T/all.json"
	run ddbtool get-norm "$T" '{"id":{"S":"all"}}'
	assert_output "$before"
	# and format=ddb takes DynamoDB JSON
	printf '{"v": {"N": "7"}, "w": {"SS": ["a"]}}' >"$MNT/$T/new.json"
	run ddbtool get "$T" '{"id":{"S":"new"}}'
	assert_output '{"id":{"S":"new"},"v":{"N":"7"},"w":{"SS":["a"]}}'
	unmount_fs
}

@test "rewriting an item replaces it whole: attributes not in the file disappear" {
	T=$(uniq_table rewrite)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"x":{"S":"1"},"y":{"N":"2"},"z":{"SS":["q"]}}'
	mount_fs
	printf '{"x": "new"}\n' >"$MNT/$T/a.json"
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"x":{"S":"new"}}'
	unmount_fs
}

@test "a write is visible to the next read through the same mount at once (cache_ttl=60)" {
	T=$(uniq_table visible)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	mount_fs -o cache_ttl=60
	run jq .v "$MNT/$T/a.json"
	assert_output 1
	ls "$MNT/$T" >/dev/null
	printf '{"v": 22}' >"$MNT/$T/a.json"
	run jq .v "$MNT/$T/a.json"
	assert_output 22
	[ "$(stat -c %s "$MNT/$T/a.json")" -eq "$(cat "$MNT/$T/a.json" | wc -c)" ]
	printf '{"v": 3}' >"$MNT/$T/b.json"
	run ls "$MNT/$T"
	assert_output "a.json
b.json"
	run cat "$MNT/$T/b.json"
	assert_output '{
  "id": "b",
  "v": 3
}'
	rm "$MNT/$T/b.json"
	run ls "$MNT/$T"
	assert_output "a.json"
	unmount_fs
}

@test "an empty file is an item with only its key attributes" {
	T=$(uniq_table empty)
	ddbtool create "$T" id:S
	U=$(uniq_table emptyps)
	ddbtool create "$U" p:S s:S
	ddbtool put "$U" '{"p":{"S":"P"},"s":{"S":"seed"}}'
	N=$(uniq_table emptyn)
	ddbtool create "$N" n:N
	mount_fs
	: >"$MNT/$T/k.json"
	touch "$MNT/$T/t.json"
	: >"$MNT/$U/P/e.json"
	touch "$MNT/$N/-1.5.json"
	run ddbtool get "$T" '{"id":{"S":"k"}}'
	assert_output '{"id":{"S":"k"}}'
	run ddbtool get "$T" '{"id":{"S":"t"}}'
	assert_output '{"id":{"S":"t"}}'
	run ddbtool get "$U" '{"p":{"S":"P"},"s":{"S":"e"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"e"}}'
	run ddbtool get "$N" '{"n":{"N":"-1.5"}}'
	assert_output '{"n":{"N":"-1.5"}}'
	# an existing item emptied the same way keeps only its key
	ddbtool put "$T" '{"id":{"S":"full"},"v":{"N":"1"}}'
	: >"$MNT/$T/full.json"
	run ddbtool get "$T" '{"id":{"S":"full"}}'
	assert_output '{"id":{"S":"full"}}'
	unmount_fs
}

@test "bad JSON is refused at close with EINVAL, line and column logged, bytes kept as .NAME.rejected" {
	T=$(uniq_table rejsyn)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"bad"},"v":{"N":"1"},"s":{"SS":["a","b"]}}'
	mount_fs
	c="$BATS_TEST_TMPDIR/content"
	printf '{\n  "v": 1,\n  "w": \n}\n' >"$c"
	reject "$T/bad.json" "$T" '{"id":{"S":"bad"}}' EINVAL 'line 4, column 1([^0-9]|$)' "$c"
	printf '{"v": 1}\n{"v": 2}\n' >"$c"
	reject "$T/bad.json" "$T" '{"id":{"S":"bad"}}' EINVAL 'second|after|one' "$c"
	printf '[{"v": 1}]' >"$c"
	reject "$T/bad.json" "$T" '{"id":{"S":"bad"}}' EINVAL 'object|array' "$c"
	printf '{"v": 1, "v": 2}' >"$c"
	reject "$T/bad.json" "$T" '{"id":{"S":"bad"}}' EINVAL 'duplicate' "$c"
	printf '"just a string"\n' >"$c"
	reject "$T/bad.json" "$T" '{"id":{"S":"bad"}}' EINVAL 'object|string' "$c"
	# the daemon goes on serving, the item as it was
	run jq -c .s "$MNT/$T/bad.json"
	assert_output '{"$SS":["a","b"]}'
	# a good write of the item drops the rejected copy
	printf '{"v": 2}' >"$MNT/$T/bad.json"
	run ddbtool get "$T" '{"id":{"S":"bad"}}'
	assert_output '{"id":{"S":"bad"},"v":{"N":"2"}}'
	[ ! -e "$MNT/$T/.bad.json.rejected" ]
	run cat "$MNT/$T/.bad.json.rejected"
	assert_failure
	EXPECT_LOG='bad\.json' unmount_fs
}

@test "keys, sets, numbers and nesting DynamoDB refuses are EINVAL at close; nothing sent" {
	T=$(uniq_table rejval)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"bad"},"v":{"N":"1"}}'
	mount_fs
	c="$BATS_TEST_TMPDIR/content"
	k='{"id":{"S":"bad"}}'
	printf '{"id": "other", "v": 1}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'key|"?id"?' "$c"
	printf '{"id": 5}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'key|"?id"?|type|string' "$c"
	printf '{"id": {"$B": "AA=="}}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'key|"?id"?|type|string' "$c"
	printf '{"s": {"$SS": []}}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'empty|set' "$c"
	printf '{"s": {"$SS": ["a", "a"]}}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'duplicate|set' "$c"
	printf '{"s": {"$NS": [1, 1.0]}}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'duplicate|set' "$c"
	printf '{"n": 123456789012345678901234567890123456789}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'number|digit' "$c"
	printf '{"n": 1E-131}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'number|small' "$c"
	printf '{"n": 1E+126}' >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'number|large' "$c"
	# the item is level 1: 31 maps inside one another are fine, 32 are not
	deep='"x"'
	for _ in $(seq 1 32); do deep="{\"d\": $deep}"; done
	printf '{"deep": %s}' "$deep" >"$c"
	reject "$T/bad.json" "$T" "$k" EINVAL 'nest|level|deep' "$c"
	deep='"x"'
	for _ in $(seq 1 31); do deep="{\"d\": $deep}"; done
	printf '{"deep": %s}' "$deep" >"$MNT/$T/deep.json"
	run ddbtool get "$T" '{"id":{"S":"deep"}}'
	assert_output --partial '"M":{"d":{"S":"x"}}'
	EXPECT_LOG='bad\.json' unmount_fs
}

@test "an item over 400 KB is EFBIG at close; fsync of a bad file is EINVAL; a new item stays absent" {
	T=$(uniq_table rejbig)
	ddbtool create "$T" p:S s:S
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"big"},"v":{"N":"1"}}'
	mount_fs
	c="$BATS_TEST_TMPDIR/content"
	"$PY" -c 'import json,sys; json.dump({"blob": "x" * 410000}, sys.stdout)' >"$c"
	reject "$T/P/big.json" "$T" '{"p":{"S":"P"},"s":{"S":"big"}}' EFBIG 'large|size|big|400|KB|bytes' "$c"
	# 300 KB is fine
	"$PY" -c 'import json,sys; json.dump({"blob": "x" * 300000}, sys.stdout)' >"$MNT/$T/P/ok.json"
	[ "$(ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"ok"}}' | jq -r '.blob.S | length')" -eq 300000 ]
	# fsync checks too, and close still refuses
	log_mark
	run fsprobe write "$MNT/$T/P/big.json" '{"v": 1,}' --fsync
	assert_output "fsync:EINVAL close:EINVAL"
	assert_equal "$(writes_since)" 0
	run cat "$MNT/$T/P/.big.json.rejected"
	assert_output '{"v": 1,}'
	# a rejected new item is not created
	run fsprobe write "$MNT/$T/P/new.json" '{"v": tru}'
	assert_output "close:EINVAL"
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"new"}}'
	assert_output NONE
	run cat "$MNT/$T/P/.new.json.rejected"
	assert_output '{"v": tru}'
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"big"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"big"},"v":{"N":"1"}}'
	# a good fsync sends the item at once
	run fsprobe write "$MNT/$T/P/big.json" '{"v": 9}' --fsync
	assert_output ok
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"big"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"big"},"v":{"N":"9"}}'
	run cat "$MNT/$T/P/.big.json.rejected"
	assert_failure
	EXPECT_LOG='big\.json|new\.json' unmount_fs
}

@test "O_EXCL on an existing item is EEXIST and changes nothing; on a new name it creates" {
	T=$(uniq_table excl)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	mount_fs -o cache_ttl=60
	run fsprobe write "$MNT/$T/a.json" '{"v": 2}' --mode x
	assert_output "open:EEXIST"
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	run fsprobe write "$MNT/$T/n.json" '{"v": 3}' --mode x
	assert_output ok
	run ddbtool get "$T" '{"id":{"S":"n"}}'
	assert_output '{"id":{"S":"n"},"v":{"N":"3"}}'
	# the mount saw no "late" when listing; boto3 creates it behind its
	# back: the conditional put still refuses
	run ls "$MNT/$T"
	refute_line late.json
	ddbtool put "$T" '{"id":{"S":"late"},"v":{"N":"1"}}'
	run fsprobe write "$MNT/$T/late.json" '{"v": 2}' --mode x
	[[ "$output" =~ ^(open|close):EEXIST$ ]]
	run ddbtool get "$T" '{"id":{"S":"late"}}'
	assert_output '{"id":{"S":"late"},"v":{"N":"1"}}'
	EXPECT_LOG='ConditionalCheckFailed|late\.json' unmount_fs
}

@test "cp -r into a new partition: one PutItem per file and no GetItem; boto3 sees every file" {
	T=$(uniq_table load)
	ddbtool create "$T" pk:S sk:S
	mkdir -p "$BATS_TEST_TMPDIR/src"
	for i in $(seq 1 60); do
		printf '{"n": %d, "s": "file %d"}\n' "$i" "$i" >"$BATS_TEST_TMPDIR/src/f$i.json"
	done
	mount_fs -o cache_ttl=60
	log_mark
	cp -r "$BATS_TEST_TMPDIR/src" "$MNT/$T/p1"
	[ "$(requests_since PutItem)" -eq 60 ]
	[ "$(requests_since GetItem)" -eq 0 ]
	# mkdir asked once whether the partition has items
	[ "$(requests_since Query)" -eq 1 ]
	for i in 1 37 60; do
		run ddbtool get "$T" "{\"pk\":{\"S\":\"p1\"},\"sk\":{\"S\":\"f$i\"}}"
		assert_output "{\"n\":{\"N\":\"$i\"},\"pk\":{\"S\":\"p1\"},\"s\":{\"S\":\"file $i\"},\"sk\":{\"S\":\"f$i\"}}"
	done
	[ "$(ddbtool count "$T")" -eq 60 ]
	unmount_fs
}

@test "in a directory the mount made, an item another client puts there: cp gets EEXIST, the item stays; seen after cache_ttl" {
	T=$(uniq_table race)
	ddbtool create "$T" pk:S sk:S
	# The test moves the mount's expiry clock past cache_ttl itself (no
	# waiting); cache_ttl is long enough that nothing expires by real time.
	export DYNAMOFS_TEST_CLOCK=1
	mount_fs -o cache_ttl=600
	mkdir "$MNT/$T/p"
	# the mount believes p empty (it made it); boto3 puts x behind its back
	ddbtool put "$T" '{"pk":{"S":"p"},"sk":{"S":"x"},"who":{"S":"boto3"}}'
	printf '{"who": "mount"}\n' >"$BATS_TEST_TMPDIR/x.json"
	run cp "$BATS_TEST_TMPDIR/x.json" "$MNT/$T/p/x.json"
	assert_failure
	assert_output --partial "File exists"
	run ddbtool get "$T" '{"pk":{"S":"p"},"sk":{"S":"x"}}'
	assert_output '{"pk":{"S":"p"},"sk":{"S":"x"},"who":{"S":"boto3"}}'
	cmp "$BATS_TEST_TMPDIR/x.json" "$MNT/$T/p/.x.json.rejected"
	# the mount's knowledge that p was empty ends with cache_ttl: the
	# listing is read again and names x.json (READDIRPLUS also gives the
	# kernel, which keeps attributes by its own clock, the item's size)
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	run ls "$MNT/$T/p"
	assert_line x.json
	run jq -r .who "$MNT/$T/p/x.json"
	assert_output boto3
	EXPECT_LOG='ConditionalCheckFailed|x\.json' unmount_fs
}

@test "a directory the mount made and still fills: after cache_ttl one Query renews what it knows, not a GetItem per file" {
	T=$(uniq_table renew)
	ddbtool create "$T" pk:S sk:S
	printf '{"v": 1}\n' >"$BATS_TEST_TMPDIR/f.json"
	# The test moves the mount's expiry clock on itself (no waiting):
	# cache_ttl is long enough that nothing expires by real time here.
	export DYNAMOFS_TEST_CLOCK=1
	mount_fs -o cache_ttl=600
	mkdir "$MNT/$T/p"
	for i in 1 2 3; do cp "$BATS_TEST_TMPDIR/f.json" "$MNT/$T/p/f$i.json"; done
	ddbtool put "$T" '{"pk":{"S":"p"},"sk":{"S":"x"},"who":{"S":"boto3"}}'
	# past cache_ttl, within twice it: expired and renewed on next use
	setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	log_mark
	for i in 4 5 6 7; do cp "$BATS_TEST_TMPDIR/f.json" "$MNT/$T/p/f$i.json"; done
	[ "$(requests_since Query)" -eq 1 ]
	[ "$(requests_since GetItem)" -eq 0 ]
	[ "$(requests_since PutItem)" -eq 4 ]
	# the renewed knowledge has boto3's item: it is looked up, and shown
	run jq -r .who "$MNT/$T/p/x.json"
	assert_output boto3
	[ "$(ddbtool count "$T")" -eq 8 ]
	# past twice cache_ttl unused: forgotten, back to a GetItem per name
	setfattr -n user.dynamofs.test.advance_clock -v 1300 "$MNT"
	log_mark
	cp "$BATS_TEST_TMPDIR/f.json" "$MNT/$T/p/f8.json"
	[ "$(requests_since Query)" -eq 0 ]
	[ "$(requests_since GetItem)" -ge 1 ]
	# without DYNAMOFS_TEST_CLOCK the clock cannot be moved
	unmount_fs
	unset DYNAMOFS_TEST_CLOCK
	mount_fs
	run setfattr -n user.dynamofs.test.advance_clock -v 700 "$MNT"
	assert_failure
	unmount_fs
}

@test "with conflicts=overwrite, writes closed together go out as BatchWriteItem; every item is stored exactly" {
	T=$(uniq_table batch)
	ddbtool create "$T" pk:S
	ddbtool fill "$T" 200 k
	mount_fs -o conflicts=overwrite
	ls "$MNT/$T" >/dev/null
	log_mark
	ls "$MNT/$T" | xargs -P8 -n5 sh -c 'for f; do printf "{\"w\": \"%s\"}\n" "$f" >"'"$MNT/$T"'/$f"; done' _
	batches=$(requests_since BatchWriteItem)
	echo "BatchWriteItem: $batches, PutItem: $(requests_since PutItem)"
	[ "$batches" -ge 1 ]
	diff <(ddbtool scan "$T") <(for i in $(seq 0 199); do
		printf '{"pk":{"S":"k%d"},"w":{"S":"k%d.json"}}\n' "$i" "$i"
	done | LC_ALL=C sort)
	unmount_fs
	# conflicts=check (the default): each put carries its condition, so
	# none is grouped; every one is stored all the same
	mount_fs
	ls "$MNT/$T" >/dev/null
	log_mark
	ls "$MNT/$T" | xargs -P8 -n5 sh -c 'for f; do printf "{\"c\": \"%s\"}\n" "$f" >"'"$MNT/$T"'/$f"; done' _
	[ "$(requests_since BatchWriteItem)" -eq 0 ]
	[ "$(requests_since PutItem)" -eq 200 ]
	diff <(ddbtool scan "$T") <(for i in $(seq 0 199); do
		printf '{"c":{"S":"k%d.json"},"pk":{"S":"k%d"}}\n' "$i" "$i"
	done | LC_ALL=C sort)
	unmount_fs
}

@test "rm of an item is a DeleteItem; rm of a missing item is ENOENT" {
	T=$(uniq_table rm)
	ddbtool create "$T" p:S s:S
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"a"}}'
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"b"}}'
	mount_fs
	log_mark
	rm "$MNT/$T/P/a.json"
	[ "$(requests_since DeleteItem)" -eq 1 ]
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"a"}}'
	assert_output NONE
	run ddbtool scan-keys "$T"
	assert_output '{"p":{"S":"P"},"s":{"S":"b"}}'
	run fsprobe unlink "$MNT/$T/P/a.json"
	assert_output ENOENT
	run fsprobe unlink "$MNT/$T/P/never.json"
	assert_output ENOENT
	run ls "$MNT/$T/P"
	assert_output b.json
	unmount_fs
}

@test "mkdir MNT/NAME creates a table with the mount's key schema (default pk:S sk:S)" {
	T=$(uniq_table mkt)
	mount_fs
	run fsprobe mkdir "$MNT/$T"
	assert_output ok
	run ddbtool schema "$T"
	assert_output "pk:S sk:S
PAY_PER_REQUEST"
	run ls "$MNT"
	assert_line "$T"
	run ls "$MNT/$T"
	assert_success
	assert_output ""
	mkdir "$MNT/$T/P"
	printf '{"v": 1}' >"$MNT/$T/P/s.json"
	run ddbtool get "$T" '{"pk":{"S":"P"},"sk":{"S":"s"}}'
	assert_output '{"pk":{"S":"P"},"sk":{"S":"s"},"v":{"N":"1"}}'
	unmount_fs

	H=$(uniq_table mkth)
	mount_fs -o hash_key=id:N,range_key=
	mkdir "$MNT/$H"
	run ddbtool schema "$H"
	assert_output "id:N
PAY_PER_REQUEST"
	printf '{"v": 2}' >"$MNT/$H/42.json"
	run ddbtool get "$H" '{"id":{"N":"42"}}'
	assert_output '{"id":{"N":"42"},"v":{"N":"2"}}'
	unmount_fs
}

@test "mkdir 'NAME,HASH:T,RANGE:T' creates that schema; the directory is NAME; EEXIST and EINVAL" {
	T=$(uniq_table mkspec)
	H=$(uniq_table mkspech)
	mount_fs
	mkdir "$MNT/$T,device_id:S,datacount:N"
	run ls "$MNT/$T,device_id:S,datacount:N"
	assert_success
	run ddbtool schema "$T"
	assert_output "device_id:S datacount:N
PAY_PER_REQUEST"
	run ls "$MNT"
	assert_line "$T"
	refute_line --partial "$T,"
	mkdir "$MNT/$H,h"
	run ddbtool schema "$H"
	assert_output "h:S
PAY_PER_REQUEST"
	printf '{"v": 1}' >"$MNT/$H/x.json"
	run ddbtool get "$H" '{"h":{"S":"x"}}'
	assert_output '{"h":{"S":"x"},"v":{"N":"1"}}'
	# a table that exists
	run fsprobe mkdir "$MNT/$T"
	assert_output EEXIST
	run fsprobe mkdir "$MNT/$H,other:N"
	assert_output EEXIST
	run ddbtool schema "$H"
	assert_output "h:S
PAY_PER_REQUEST"
	# bad specs
	B=$(uniq_table mkbad)
	for spec in "$B,a:Q" "$B,a:S,b:S,c:S" "$B,:S" "$B,a:" "x"; do
		run fsprobe mkdir "$MNT/$spec"
		echo "$spec: $output"
		assert_output EINVAL
	done
	run ddbtool tables
	refute_line --partial "$B"
	refute_line x
	EXPECT_LOG='ResourceInUseException|ValidationException|mkbad|[/" ]x([^A-Za-z0-9_.-]|$)' unmount_fs
}

@test "mkdir of a partition is held by the mount until an item is written; rmdir of empty and non-empty partitions" {
	T=$(uniq_table mkpart)
	ddbtool create "$T" p:S s:S
	mount_fs
	log_mark
	mkdir "$MNT/$T/P"
	[ "$(writes_since)" -eq 0 ]
	run ls "$MNT/$T"
	assert_output P
	run ls "$MNT/$T/P"
	assert_success
	assert_output ""
	[ "$(ddbtool count "$T")" -eq 0 ]
	run fsprobe mkdir "$MNT/$T/P"
	assert_output EEXIST
	printf '{"v": 1}' >"$MNT/$T/P/1.json"
	run ddbtool scan-keys "$T"
	assert_output '{"p":{"S":"P"},"s":{"S":"1"}}'
	run fsprobe rmdir "$MNT/$T/P"
	assert_output ENOTEMPTY
	[ "$(ddbtool count "$T")" -eq 1 ]
	# emptied through the mount: still listed until rmdir
	rm "$MNT/$T/P/1.json"
	run ls "$MNT/$T"
	assert_output P
	run fsprobe rmdir "$MNT/$T/P"
	assert_output ok
	run ls "$MNT/$T"
	assert_output ""
	# a fresh empty partition goes with rmdir too, and never reached DynamoDB
	mkdir "$MNT/$T/Q"
	rmdir "$MNT/$T/Q"
	run ls "$MNT/$T"
	assert_output ""
	run fsprobe rmdir "$MNT/$T/nosuch"
	assert_output ENOENT
	[ "$(ddbtool count "$T")" -eq 0 ]
	unmount_fs
}

@test "rm -r of a partition deletes its items (boto3) and then the directory" {
	T=$(uniq_table rmr)
	ddbtool create "$T" p:S s:S
	ddbtool fill-part "$T" 30 P item-
	ddbtool fill-part "$T" 3 Q keep-
	mount_fs
	log_mark
	rm -r "$MNT/$T/P"
	[ "$(requests_since DeleteItem)" -eq 30 ] || [ "$(requests_since BatchWriteItem)" -ge 1 ]
	run ls "$MNT/$T"
	assert_output Q
	run ddbtool scan-keys "$T"
	assert_output '{"p":{"S":"Q"},"s":{"S":"keep-0"}}
{"p":{"S":"Q"},"s":{"S":"keep-1"}}
{"p":{"S":"Q"},"s":{"S":"keep-2"}}'
	unmount_fs
}

@test "rmdir of a non-empty table is ENOTEMPTY; of an empty table a DeleteTable" {
	T=$(uniq_table rmt)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"}}'
	E=$(uniq_table rmte)
	ddbtool create "$E" p:S s:S
	mount_fs
	run fsprobe rmdir "$MNT/$T"
	assert_output ENOTEMPTY
	run ddbtool tables
	assert_line "$T"
	[ "$(ddbtool count "$T")" -eq 1 ]
	log_mark
	run fsprobe rmdir "$MNT/$E"
	assert_output ok
	[ "$(requests_since DeleteTable)" -eq 1 ]
	run ls "$MNT"
	refute_line "$E"
	# boto3 sees it go (dynalite keeps a table DELETING for a while)
	ddbtool gone "$E"
	# emptied through the mount, then removed
	rm "$MNT/$T/a.json"
	rmdir "$MNT/$T"
	run ls "$MNT"
	refute_line "$T"
	ddbtool gone "$T"
	unmount_fs
}

# Checks the requests of one item-to-item mv since log_mark: one transaction
# on DynamoDB Local, a put and a delete on dynalite (no transactions).
mv_requests_ok() {
	if [ "${DYNAMOFS_SERVER:-}" = dynalite ]; then
		[ "$(requests_since PutItem)" -eq 1 ] && [ "$(requests_since DeleteItem)" -eq 1 ]
	else
		[ "$(requests_since TransactWriteItems)" -eq 1 ] &&
			[ "$(requests_since PutItem)" -eq 0 ] && [ "$(requests_since DeleteItem)" -eq 0 ]
	fi
}

@test "mv item to item: one item with the content and the new key; onto an existing item replaces it" {
	T=$(uniq_table mv)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"},"s":{"SS":["x"]}}'
	ddbtool put "$T" '{"id":{"S":"c"},"v":{"N":"3"},"old":{"S":"gone"}}'
	mount_fs
	log_mark
	mv "$MNT/$T/a.json" "$MNT/$T/b.json"
	mv_requests_ok
	run ddbtool scan "$T"
	assert_output '{"id":{"S":"b"},"s":{"SS":["x"]},"v":{"N":"1"}}
{"id":{"S":"c"},"old":{"S":"gone"},"v":{"N":"3"}}'
	run ls "$MNT/$T"
	assert_output "b.json
c.json"
	run jq -r .id "$MNT/$T/b.json"
	assert_output b
	log_mark
	run fsprobe rename "$MNT/$T/b.json" "$MNT/$T/c.json"
	assert_output ok
	mv_requests_ok
	run ddbtool scan "$T"
	assert_output '{"id":{"S":"c"},"s":{"SS":["x"]},"v":{"N":"1"}}'
	run fsprobe rename "$MNT/$T/nosuch.json" "$MNT/$T/d.json"
	assert_output ENOENT
	EXPECT_LOG='UnknownOperation' unmount_fs
}

@test "mv across partitions and across tables moves the key attributes" {
	T=$(uniq_table mvps)
	ddbtool create "$T" p:S s:S
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"a"},"v":{"N":"1"},"m":{"M":{"k":{"S":"x"}}}}'
	ddbtool put "$T" '{"p":{"S":"Q"},"s":{"S":"z"}}'
	N=$(uniq_table mvnum)
	ddbtool create "$N" id:N
	mount_fs
	mv "$MNT/$T/P/a.json" "$MNT/$T/Q/b.json"
	run ddbtool scan "$T"
	assert_output '{"m":{"M":{"k":{"S":"x"}}},"p":{"S":"Q"},"s":{"S":"b"},"v":{"N":"1"}}
{"p":{"S":"Q"},"s":{"S":"z"}}'
	log_mark
	mv "$MNT/$T/Q/b.json" "$MNT/$N/7.json"
	mv_requests_ok
	run ddbtool scan "$N"
	assert_output '{"id":{"N":"7"},"m":{"M":{"k":{"S":"x"}}},"v":{"N":"1"}}'
	run ddbtool scan "$T"
	assert_output '{"p":{"S":"Q"},"s":{"S":"z"}}'
	run jq -c . "$MNT/$N/7.json"
	assert_output '{"id":7,"m":{"k":"x"},"v":1}'
	EXPECT_LOG='UnknownOperation' unmount_fs
}

@test "mv of a directory is EXDEV, so mv copies the partition and deletes the old one" {
	T=$(uniq_table mvdir)
	ddbtool create "$T" p:S s:S
	ddbtool fill-part "$T" 5 P i
	mount_fs
	run fsprobe rename "$MNT/$T/P" "$MNT/$T/Q"
	assert_output EXDEV
	run fsprobe rename "$MNT/$T" "$MNT/${T}x"
	assert_output EXDEV
	run ddbtool count "$T"
	assert_output 5
	run mv "$MNT/$T/P" "$MNT/$T/Q"
	assert_success
	run ls "$MNT/$T"
	assert_output Q
	run ddbtool scan "$T"
	assert_output '{"p":{"S":"Q"},"s":{"S":"i0"},"v":{"N":"1"}}
{"p":{"S":"Q"},"s":{"S":"i1"},"v":{"N":"1"}}
{"p":{"S":"Q"},"s":{"S":"i2"},"v":{"N":"1"}}
{"p":{"S":"Q"},"s":{"S":"i3"},"v":{"N":"1"}}
{"p":{"S":"Q"},"s":{"S":"i4"},"v":{"N":"1"}}'
	run ddbtool tables
	refute_line "${T}x"
	unmount_fs
}

@test "truncate by path writes the truncated item at once" {
	T=$(uniq_table trunc)
	ddbtool create "$T" id:S
	for k in a b c; do ddbtool put "$T" "{\"id\":{\"S\":\"$k\"},\"v\":{\"N\":\"1\"}}"; done
	mount_fs
	log_mark
	run fsprobe truncate "$MNT/$T/a.json" 0
	assert_output ok
	[ "$(requests_since PutItem)" -eq 1 ]
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"}}'
	truncate -s 0 "$MNT/$T/b.json"
	run ddbtool get "$T" '{"id":{"S":"b"}}'
	assert_output '{"id":{"S":"b"}}'
	run cat "$MNT/$T/b.json"
	assert_output '{
  "id": "b"
}'
	# cut in the middle of the JSON: refused like any bad write
	run fsprobe truncate "$MNT/$T/c.json" 5
	assert_output EINVAL
	run ddbtool get "$T" '{"id":{"S":"c"}}'
	assert_output '{"id":{"S":"c"},"v":{"N":"1"}}'
	EXPECT_LOG='c\.json' unmount_fs
}

@test "chmod, chown, touch and utimens are accepted and send nothing" {
	T=$(uniq_table attrs)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	mount_fs -o cache_ttl=60
	cat "$MNT/$T/a.json" >/dev/null
	log_mark
	chmod 600 "$MNT/$T/a.json"
	chown "$(id -u):$(id -g)" "$MNT/$T/a.json"
	touch -d 2020-01-01 "$MNT/$T/a.json"
	touch "$MNT/$T/a.json"
	run fsprobe utime "$MNT/$T/a.json"
	assert_output ok
	run fsprobe chmod "$MNT/$T" 700
	assert_output ok
	[ "$(requests_since)" -eq 0 ]
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	unmount_fs
}

@test "a read-only mount refuses every change with EROFS and changes nothing" {
	T=$(uniq_table ro)
	ddbtool create "$T" p:S s:S
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"a"},"v":{"N":"1"}}'
	E=$(uniq_table roe)
	ddbtool create "$E" id:S
	before=$(ddbtool scan "$T")
	tables=$(ddbtool tables)
	mount_fs -o ro
	log_mark
	run fsprobe write "$MNT/$T/P/a.json" '{"v": 2}'
	assert_output open:EROFS
	run fsprobe write "$MNT/$T/P/a.json" '{"v": 2}' --mode r+
	assert_output open:EROFS
	run fsprobe write "$MNT/$T/P/new.json" '{"v": 2}'
	assert_output open:EROFS
	run fsprobe write "$MNT/$T/P/x.tmp" 'scratch'
	assert_output open:EROFS
	run fsprobe unlink "$MNT/$T/P/a.json"
	assert_output EROFS
	run fsprobe mkdir "$MNT/$T/Q"
	assert_output EROFS
	run fsprobe mkdir "$MNT/${T}new"
	assert_output EROFS
	run fsprobe rmdir "$MNT/$E"
	assert_output EROFS
	run fsprobe rename "$MNT/$T/P/a.json" "$MNT/$T/P/b.json"
	assert_output EROFS
	run fsprobe truncate "$MNT/$T/P/a.json" 0
	assert_output EROFS
	run sh -c "echo '{}' > '$MNT/$E/e.json'"
	assert_failure
	[ "$(writes_since)" -eq 0 ]
	run ddbtool scan "$T"
	assert_output "$before"
	run ddbtool tables
	assert_output "$tables"
	run ls "$MNT/$T"
	assert_output P
	unmount_fs
}

@test "scratch files live in the mount's memory only: listed, never sent, gone after unmount" {
	T=$(uniq_table scr)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"x"},"v":{"N":"1"}}'
	U=$(uniq_table scrps)
	ddbtool create "$U" p:S s:S
	ddbtool put "$U" '{"p":{"S":"P"},"s":{"S":"x"},"v":{"N":"1"}}'
	mount_fs
	names=(.x.json.swp 4913 x.json~ x.tmp sedAb12Cd XXpo8KMv)
	log_mark
	for d in "$MNT/$T" "$MNT/$U/P"; do
		for n in "${names[@]}"; do
			printf 'scratch %s' "$n" >"$d/$n"
		done
		run fsprobe write "$d/.x.json.swx" 'swx' --mode x
		assert_output ok
		run fsprobe write "$d/.x.json.swx" 'swx' --mode x
		assert_output open:EEXIST
		rm "$d/.x.json.swx"
		run sh -c "ls -A '$d' | LC_ALL=C sort"
		assert_output "$(printf '%s\n' "${names[@]}" x.json | LC_ALL=C sort)"
		for n in "${names[@]}"; do
			run cat "$d/$n"
			assert_output "scratch $n"
			[ "$(stat -c %s "$d/$n")" -eq $((8 + ${#n})) ]
		done
		# appends and rewrites stay in memory too
		printf ' more' >>"$d/x.tmp"
		run cat "$d/x.tmp"
		assert_output "scratch x.tmp more"
	done
	[ "$(writes_since)" -eq 0 ]
	run ddbtool scan-keys "$T"
	assert_output '{"id":{"S":"x"}}'
	run ddbtool scan-keys "$U"
	assert_output '{"p":{"S":"P"},"s":{"S":"x"}}'
	rm "$MNT/$T/4913"
	run ls -A "$MNT/$T"
	refute_line 4913
	unmount_fs
	mount_fs
	run ls -A "$MNT/$T"
	assert_output x.json
	run ls -A "$MNT/$U/P"
	assert_output x.json
	run cat "$MNT/$T/x.tmp"
	assert_failure
	unmount_fs
}

@test "renaming a scratch file onto an item name writes the item" {
	T=$(uniq_table scrmv)
	ddbtool create "$T" p:S s:S
	ddbtool put "$T" '{"p":{"S":"P"},"s":{"S":"x"},"v":{"N":"1"},"gone":{"S":"y"}}'
	mount_fs
	printf '{"v": 3}' >"$MNT/$T/P/x.tmp"
	log_mark
	mv "$MNT/$T/P/x.tmp" "$MNT/$T/P/x.json"
	[ "$(requests_since PutItem)" -eq 1 ]
	[ "$(requests_since DeleteItem)" -eq 0 ]
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"x"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"x"},"v":{"N":"3"}}'
	run ls -A "$MNT/$T/P"
	assert_output x.json
	# onto a new name, and a bad scratch file is refused like a bad write
	printf '{"v": 4}' >"$MNT/$T/P/sedQ1w2E3"
	mv "$MNT/$T/P/sedQ1w2E3" "$MNT/$T/P/y.json"
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"y"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"y"},"v":{"N":"4"}}'
	printf '{"v": ' >"$MNT/$T/P/t"
	run fsprobe rename "$MNT/$T/P/t" "$MNT/$T/P/x.json"
	assert_output EINVAL
	run ddbtool get "$T" '{"p":{"S":"P"},"s":{"S":"x"}}'
	assert_output '{"p":{"S":"P"},"s":{"S":"x"},"v":{"N":"3"}}'
	EXPECT_LOG='x\.json|/t\b' unmount_fs
}

@test "scratch space is bounded: cache_size=1 and 2 MiB of scratch data is ENOSPC" {
	T=$(uniq_table scrbig)
	ddbtool create "$T" id:S
	mount_fs -o cache_size=1
	run fsprobe write "$MNT/$T/big.tmp" =2097152 --chunk 65536
	[[ "$output" == *ENOSPC* ]]
	# the daemon goes on, and items are still written
	printf '{"v": 1}' >"$MNT/$T/a.json"
	run ddbtool get "$T" '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	[ "$(ddbtool count "$T")" -eq 1 ]
	rm -f "$MNT/$T/big.tmp"
	EXPECT_LOG='big\.tmp|scratch|space|ENOSPC' unmount_fs
}

@test "a write while the server is down: EIO at close, the bytes kept as .NAME.rejected, the item unchanged" {
	. "$DYNAMOFS_ROOT/scripts/lib/common.sh"
	# dynalite on disk, so the data outlives the stop
	port=$(free_port)
	own="http://127.0.0.1:$port"
	start_own() {
		"$DYNALITE_BIN" --host 127.0.0.1 --port "$port" --path "$BATS_TEST_TMPDIR/db" \
			>>"$BATS_TEST_TMPDIR/own.log" 2>&1 &
		SERVER_PID=$!
		for _ in $(seq 1 100); do curl -s -o /dev/null "$own" && break; sleep 0.1; done
	}
	start_own
	DYNAMOFS_ENDPOINT=$own ddbtool create downw id:S
	DYNAMOFS_ENDPOINT=$own ddbtool put downw '{"id":{"S":"a"},"v":{"N":"1"}}'
	MOUNT_SOURCE=$own mount_fs -o retries=1,timeout=2
	run cat "$MNT/downw/a.json"
	assert_success
	server_stop
	printf '{"v": 2}' >"$BATS_TEST_TMPDIR/new"
	run fsprobe write "$MNT/downw/a.json" "@$BATS_TEST_TMPDIR/new"
	assert_output "close:EIO"
	cmp "$BATS_TEST_TMPDIR/new" "$MNT/downw/.a.json.rejected"
	grep -q 'a.json: not stored' "$DLOG"
	kill -0 "$DYNAMOFS_PID"
	start_own
	run env DYNAMOFS_ENDPOINT=$own "$PY" "$DDBTOOL" get downw '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"1"}}'
	# the kept bytes, written again once the server is back: stored, and
	# the .rejected file is gone
	cp "$MNT/downw/.a.json.rejected" "$MNT/downw/a.json"
	run env DYNAMOFS_ENDPOINT=$own "$PY" "$DDBTOOL" get downw '{"id":{"S":"a"}}'
	assert_output '{"id":{"S":"a"},"v":{"N":"2"}}'
	[ ! -e "$MNT/downw/.a.json.rejected" ]
	server_stop
	EXPECT_LOG='not stored|connect|refused|reach|PutItem' unmount_fs
}
