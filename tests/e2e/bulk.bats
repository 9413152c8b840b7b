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
