#!/usr/bin/env bats
# bulk.bats - the bulk files (SPEC §3, .items.jsonl): a table's file is every
# item as one compact JSON line, from a parallel Scan; a partition's, in
# sort-key order, from a Query; both checked line for line against boto3 and
# an independent renderer (tests/tools/ddbtool.py scan-lines).

load helpers

setup() {
	clean_aws_env
	local_creds
}

teardown() {
	cleanup_mount
	stop_proxy
}

# The requests after log_mark, for the record of a failed test.
log_since_requests() {
	tail -n +"$((LOG_MARK + 1))" "$DLOG" | grep 'request op=' || true
}

# A table pk:S whose items hold every type DynamoDB has.
typed_table() {
	T=$(uniq_table "$1")
	ddbtool create "$T" pk:S
	ddbtool put "$T" '{"pk":{"S":"a"},"s":{"S":"héllo \"wörld\"\n✓"},"n":{"N":"12345678901234567890123456789012345678"},"small":{"N":"-1E-130"},"t":{"BOOL":true},"z":{"NULL":true}}'
	ddbtool put "$T" '{"pk":{"S":"b"},"bin":{"B":"AAEC/w=="},"ss":{"SS":["b","a","ä"]},"ns":{"NS":["10","9.5","-1"]},"bs":{"BS":["AQ==","AA=="]}}'
	ddbtool put "$T" '{"pk":{"S":"c"},"m":{"M":{"z":{"N":"1"},"a":{"L":[{"S":"x"},{"M":{"$B":{"S":"not binary"}}},{"L":[]}]},"e":{"M":{}}}}}'
	ddbtool put "$T" '{"pk":{"S":"d/ü"}}'
}

@test "a table's .items.jsonl is every item as one compact line, as boto3's scan; not listed; size 0" {
	typed_table lines
	mount_fs
	log_mark
	sort "$MNT/$T/.items.jsonl" >"$BATS_TEST_TMPDIR/got"
	ddbtool scan-lines "$T" >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/got")" -eq 4 ]
	# one Scan page per segment: the items fit a page each
	[ "$(requests_since Scan)" -ge 1 ]
	[ "$(requests_since GetItem)" -eq 0 ]
	run ls -A "$MNT/$T"
	refute_output --partial items.jsonl
	[ "$(stat -c %s "$MNT/$T/.items.jsonl")" -eq 0 ]
	# each line is the item file's content, compacted
	grep '"pk":"a"' "$MNT/$T/.items.jsonl" | jq -S . >"$BATS_TEST_TMPDIR/line"
	jq -S . "$MNT/$T/a.json" | diff - "$BATS_TEST_TMPDIR/line"
}

@test "format=ddb: the lines are DynamoDB JSON, equal to boto3's items" {
	typed_table ddbfmt
	mount_fs -o format=ddb
	jq -cS . "$MNT/$T/.items.jsonl" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/got"
	ddbtool scan "$T" | jq -cS . | LC_ALL=C sort >"$BATS_TEST_TMPDIR/want"
	# sets keep no order on the server: compare with members sorted
	jq -cS 'walk(if type == "object" and (has("SS") or has("NS") or has("BS")) then map_values(sort) else . end)' "$BATS_TEST_TMPDIR/got" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/got.n"
	jq -cS 'walk(if type == "object" and (has("SS") or has("NS") or has("BS")) then map_values(sort) else . end)' "$BATS_TEST_TMPDIR/want" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/want.n"
	diff "$BATS_TEST_TMPDIR/want.n" "$BATS_TEST_TMPDIR/got.n"
}

@test "a partition's .items.jsonl is its items in sort-key order, from a Query" {
	T=$(uniq_table part)
	ddbtool create "$T" p:S s:N
	for i in 10 9 100 1 -5 2.5; do
		ddbtool put "$T" '{"p":{"S":"P"},"s":{"N":"'"$i"'"},"v":{"S":"item '"$i"'"}}'
	done
	ddbtool put "$T" '{"p":{"S":"Q"},"s":{"N":"1"}}'
	mount_fs -o cache_ttl=600
	ls "$MNT/$T/P" >/dev/null # the lookup of P's name is its own Query
	log_mark
	cat "$MNT/$T/P/.items.jsonl" >"$BATS_TEST_TMPDIR/got"
	ddbtool scan-lines "$T" P >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	run jq -r .s "$BATS_TEST_TMPDIR/got"
	assert_output "-5
1
2.5
9
10
100"
	log_since_requests
	[ "$(requests_since Query)" -eq 1 ]
	[ "$(requests_since Scan)" -eq 0 ]
	run ls -A "$MNT/$T/P"
	refute_output --partial items.jsonl
}

@test "head -1 of a 20,000-item table's .items.jsonl costs at most 2 Scans" {
	T=$(uniq_table head)
	ddbtool create "$T" pk:S
	ddbtool fill "$T" 20000 k
	mount_fs
	log_mark
	run head -1 "$MNT/$T/.items.jsonl"
	assert_success
	[[ "$output" == '{"pk":"k'* ]]
	echo "Scans: $(requests_since Scan)"
	[ "$(requests_since Scan)" -le 2 ]
	# and the whole file is every item, once
	[ "$(wc -l <"$MNT/$T/.items.jsonl")" -eq 20000 ]
	[ "$(jq -r .pk "$MNT/$T/.items.jsonl" | sort -u | wc -l)" -eq 20000 ]
}

@test "reading .items.jsonl does not fill the item cache; it cannot be removed or renamed over" {
	typed_table nofill
	mount_fs -o cache_ttl=600
	cat "$MNT/$T/.items.jsonl" >/dev/null
	log_mark
	cat "$MNT/$T/a.json" >/dev/null
	[ "$(requests_since GetItem)" -eq 1 ]
	run fsprobe unlink "$MNT/$T/.items.jsonl"
	assert_output EPERM
	run fsprobe rename "$MNT/$T/a.json" "$MNT/$T/.items.jsonl"
	assert_output EPERM
	[ "$(ddbtool count "$T")" -eq 4 ]
}

@test "appending 3,000 new lines and 100 replacements to .items.jsonl stores each, in BatchWriteItems" {
	T=$(uniq_table load)
	ddbtool create "$T" pk:S
	ddbtool fill "$T" 100 k
	"$PY" - >"$BATS_TEST_TMPDIR/in.jsonl" <<-'EOF2'
		import json
		# in SPEC section 3's form: compact, the key first, then by name
		def line(d):
		    return json.dumps(d, separators=(",", ":"))
		for i in range(3000):
		    print(line({"pk": "n%d" % i, "tags": {"$SS": ["a", "b%d" % i]}, "v": i}))
		for i in range(100):
		    print(line({"pk": "k%d" % i, "new": True, "v": -i}))
	EOF2
	mount_fs
	log_mark
	cat "$BATS_TEST_TMPDIR/in.jsonl" >>"$MNT/$T/.items.jsonl"
	[ "$(ddbtool count "$T")" -eq 3100 ]
	# each line as stored is the line written (same renderer both ways)
	LC_ALL=C sort "$BATS_TEST_TMPDIR/in.jsonl" >"$BATS_TEST_TMPDIR/want"
	ddbtool scan-lines "$T" | LC_ALL=C sort >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	echo "BatchWriteItem: $(requests_since BatchWriteItem)"
	[ "$(requests_since BatchWriteItem)" -ge 124 ]
	[ "$(requests_since PutItem)" -eq 0 ]
	[ "$(requests_since DeleteItem)" -eq 0 ]
	[ ! -e "$MNT/$T/.items.jsonl.rejected" ]
	# the mount reads its own writes
	run jq -c . "$MNT/$T/k7.json"
	assert_output '{"pk":"k7","new":true,"v":-7}'
}

@test "O_TRUNC deletes nothing; a later line for the same key wins" {
	T=$(uniq_table trunc)
	ddbtool create "$T" pk:S
	ddbtool fill "$T" 10 k
	mount_fs
	{
		for i in $(seq 1 60); do
			printf '{"pk":"d%d","v":%d}\n' $((i % 3)) "$i"
		done
	} >"$MNT/$T/.items.jsonl"
	[ "$(ddbtool count "$T")" -eq 13 ]
	[ "$(ddbtool get "$T" '{"pk":{"S":"d0"}}' | jq -r .v.N)" = 60 ]
	[ "$(ddbtool get "$T" '{"pk":{"S":"d1"}}' | jq -r .v.N)" = 58 ]
	[ "$(ddbtool get "$T" '{"pk":{"S":"d2"}}' | jq -r .v.N)" = 59 ]
}

@test "good lines around three bad ones: close says EINVAL, the good are stored, exactly the bad kept in .items.jsonl.rejected" {
	T=$(uniq_table bad)
	ddbtool create "$T" p:S s:S
	{
		printf '{"p":"P","s":"1","v":1}\n'
		printf '{"p":"P","s":"2","v":2,}\n'
		printf '\n'
		printf '{"p":"P","s":"3","v":3}\n'
		printf '{"p":"P","v":4}\n'
		printf '{"p":"Q","s":"5","v":5}\n'
		printf '{"p":"P","s":"6","e":{"$SS":[]}}\n'
		printf '{"p":"P","s":"7","v":7}'
	} >"$BATS_TEST_TMPDIR/in.jsonl"
	mount_fs
	run fsprobe write "$MNT/$T/.items.jsonl" "@$BATS_TEST_TMPDIR/in.jsonl"
	assert_output close:EINVAL
	run ddbtool scan-keys "$T"
	assert_output '{"p":{"S":"P"},"s":{"S":"1"}}
{"p":{"S":"P"},"s":{"S":"3"}}
{"p":{"S":"P"},"s":{"S":"7"}}
{"p":{"S":"Q"},"s":{"S":"5"}}'
	run cat "$MNT/$T/.items.jsonl.rejected"
	assert_output '{"p":"P","s":"2","v":2,}
{"p":"P","v":4}
{"p":"P","s":"6","e":{"$SS":[]}}'
	grep -q 'line 2: not stored' "$DLOG"
	grep -q 'line 5: not stored: the key attribute "s" is missing' "$DLOG"
	grep -q 'line 7: not stored' "$DLOG"
	# the next good write of the file replaces the rejected lines
	printf '{"p":"P","s":"8"}\n' >"$MNT/$T/.items.jsonl"
	[ ! -e "$MNT/$T/.items.jsonl.rejected" ]
	EXPECT_LOG='not stored|kept in'
}

@test "a partition's .items.jsonl takes lines of that partition only; format=ddb takes DynamoDB JSON lines" {
	T=$(uniq_table pload)
	ddbtool create "$T" p:S s:N
	mount_fs -o format=ddb
	mkdir "$MNT/$T/P"
	printf '%s\n' '{"p":{"S":"P"},"s":{"N":"1"},"b":{"B":"AAE="}}' '{"p":{"S":"Q"},"s":{"N":"2"}}' >"$BATS_TEST_TMPDIR/in"
	run fsprobe write "$MNT/$T/P/.items.jsonl" "@$BATS_TEST_TMPDIR/in"
	assert_output close:EINVAL
	run ddbtool scan "$T"
	assert_output '{"b":{"B":"AAE="},"p":{"S":"P"},"s":{"N":"1"}}'
	grep -q "line 2: not stored: its \"p\" is not this partition's" "$DLOG"
	EXPECT_LOG='not stored|kept in'
}

@test "cat T/.items.jsonl > backup; cat backup > U/.items.jsonl copies a table exactly" {
	typed_table src
	SRC=$T
	T=$(uniq_table dst)
	ddbtool create "$T" pk:S
	mount_fs
	cat "$MNT/$SRC/.items.jsonl" >"$BATS_TEST_TMPDIR/backup.jsonl"
	cat "$BATS_TEST_TMPDIR/backup.jsonl" >"$MNT/$T/.items.jsonl"
	diff <(ddbtool scan "$SRC") <(ddbtool scan "$T")
	# a jq filter and update, loaded back
	jq -c 'select(.pk != "b") | .x = 1' "$MNT/$T/.items.jsonl" >"$MNT/$T/.items.jsonl"
	[ "$(ddbtool count "$T")" -eq 4 ]
	[ "$(ddbtool scan "$T" | jq -s 'map(select(.x.N == "1")) | length')" -eq 3 ]
}

@test "the server fails half way through a 5,000-line load: close fails, exactly the lines not stored are in .items.jsonl.rejected" {
	T=$(uniq_table half)
	ddbtool create "$T" pk:S
	GATE_CTL="$BATS_TEST_TMPDIR/gate.ctl"
	: >"$GATE_CTL"
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/gateproxy.py" \
		"$DYNAMOFS_ENDPOINT" "$GATE_CTL" "$BATS_TEST_TMPDIR/gate.log"
	MOUNT_SOURCE=$PROXY_URL mount_fs -o retries=0
	export T GATE_CTL DDBTOOL
	# 2,500 lines are 100 full batches, sent as they come; once boto3
	# sees them all, every BatchWriteItem fails, and 2,500 more follow
	run "$PY" - "$MNT/$T/.items.jsonl" <<-'EOF2'
		import errno, os, subprocess, sys
		fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
		def lines(a, b):
		    return "".join('{"pk":"k%04d","v":%d}\n' % (i, i) for i in range(a, b)).encode()
		os.write(fd, lines(0, 2500))
		while True:
		    n = subprocess.run(["/usr/bin/python3", os.environ["DDBTOOL"], "count", os.environ["T"]],
		                       capture_output=True, text=True, check=True).stdout.strip()
		    if n == "2500":
		        break
		with open(os.environ["GATE_CTL"], "w") as f:
		    f.write("BatchWriteItem 500\n")
		os.write(fd, lines(2500, 5000))
		try:
		    os.close(fd)
		    print("closed")
		except OSError as e:
		    print(errno.errorcode[e.errno])
	EOF2
	assert_output EIO
	[ "$(ddbtool count "$T")" -eq 2500 ]
	# exactly the lines not stored, in order
	diff <(for i in $(seq 2500 4999); do printf '{"pk":"k%04d","v":%d}\n' "$i" "$i"; done) "$MNT/$T/.items.jsonl.rejected"
	grep -q 'line 2501: not' "$DLOG"
	: >"$GATE_CTL"
	EXPECT_LOG='not stored|not sent|InternalServerError|500|kept in'
}

@test "1 GiB written to .items.jsonl streams through with bounded memory" {
	T=$(uniq_table big)
	ddbtool create "$T" pk:S
	# ASan keeps freed memory in quarantine (256 MB by default); a small
	# one lets the daemon's peak show what it holds
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8" mount_fs
	# 8,192 items, each line padded to 128 KiB with spaces
	"$PY" -c '
import sys
out = sys.stdout.buffer
for i in range(8192):
    line = ("{\"pk\":\"b%05d\",\"v\":%d}" % (i, i)).encode()
    out.write(line + b" " * (131071 - len(line)) + b"\n")
' >"$MNT/$T/.items.jsonl"
	[ "$(ddbtool count "$T")" -eq 8192 ]
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$DYNAMOFS_PID/status")
	echo "daemon peak RSS: $hwm kB"
	[ "$hwm" -lt $((200 * 1024)) ]
}

@test "lines of 720 KB of text each (escaped) load without waiting forever for a full batch" {
	T=$(uniq_table wide)
	ddbtool create "$T" pk:S
	mount_fs
	"$PY" -c '
import json
for i in range(30):
    print(json.dumps({"pk": "w%d" % i, "s": "\u00e9" * 120000}, separators=(",", ":")))
' >"$MNT/$T/.items.jsonl"
	[ "$(ddbtool count "$T")" -eq 30 ]
}

@test "items loaded into a partition this mount just made are read at once" {
	T=$(uniq_table made)
	ddbtool create "$T" p:S s:S
	mount_fs -o cache_ttl=600
	mkdir "$MNT/$T/P"
	ls "$MNT/$T/P" >/dev/null
	printf '{"p":"P","s":"1","v":1}\n{"p":"P","s":"2","v":2}\n' >"$MNT/$T/P/.items.jsonl"
	run jq -c . "$MNT/$T/P/1.json"
	assert_output '{"p":"P","s":"1","v":1}'
	run ls "$MNT/$T/P"
	assert_output "1.json
2.json"
}

@test "100 lines of one partition (string keys) go out as full BatchWriteItems, not one line a request" {
	T=$(uniq_table onepart)
	ddbtool create "$T" p:S s:N
	mount_fs
	log_mark
	for i in $(seq 1 100); do
		printf '{"p":"part","s":%d}\n' "$i"
	done >>"$MNT/$T/.items.jsonl"
	[ "$(ddbtool count "$T")" -eq 100 ]
	echo "BatchWriteItem: $(requests_since BatchWriteItem)"
	[ "$(requests_since BatchWriteItem)" -le 8 ]
}
