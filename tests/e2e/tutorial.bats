#!/usr/bin/env bats
# tutorial.bats - the tutorials replayed through the mount only (docs/TUTORIAL.md):
# tables made with mkdir, items loaded with jq and a shell loop, read,
# updated with jq and sed -i, deleted with rm, listed, found, and the tables
# removed with rm -r and rmdir. boto3 checks every step.

load helpers

setup() {
	clean_aws_env
	local_creds
}

teardown() {
	cleanup_mount
}

# The item as boto3's low-level client sees it (compact, sorted).
dev_item() {
	ddbtool get "$DEV" "{\"device_id\":{\"S\":\"$1\"},\"datacount\":{\"N\":\"$2\"}}"
}

@test "the Devices tutorial through the mount, each step checked with boto3" {
	DEV=$(uniq_table Devices)
	mount_fs
	# create the table with its key schema
	mkdir "$MNT/$DEV,device_id:S,datacount:N"
	run ddbtool schema "$DEV"
	assert_output --partial device_id
	assert_output --partial datacount
	# load the sample items from data.json with jq and a shell loop
	n_items=$(devices_jq length)
	[ "$n_items" -gt 0 ]
	devices_jq -c '.[]' | while read -r item; do
		id=$(jq -r .device_id <<<"$item")
		n=$(jq -r .datacount <<<"$item")
		mkdir -p "$MNT/$DEV/$id"
		jq . <<<"$item" >"$MNT/$DEV/$id/$n.json"
	done
	run ddbtool count "$DEV"
	assert_output "$n_items"
	t3=$(devices_jq -r '.[] | select(.device_id == "10001" and .datacount == 2) | .info.temperature3')
	run dev_item 10001 2
	assert_output --partial "\"temperature3\":{\"N\":\"$t3\"}"
	# read one
	run jq -r .info.temperature1 "$MNT/$DEV/10001/1.json"
	assert_output "$(devices_jq -r '.[] | select(.device_id == "10001" and .datacount == 1) | .info.temperature1')"
	assert_output 37.2
	# update the nested info.temperature1 with jq
	f="$MNT/$DEV/10001/1.json"
	jq '.info.temperature1 = 38.4' "$f" >"$MNT/$DEV/10001/t" && mv "$MNT/$DEV/10001/t" "$f"
	run dev_item 10001 1
	assert_output --partial '"temperature1":{"N":"38.4"}'
	assert_output --partial '"temperature2":{"N":"21.31"}'
	# update with sed -i
	t5=$(devices_jq -r '.[] | select(.device_id == "10001" and .datacount == 1) | .info.temperature5')
	grep -q "\"temperature5\": $t5\$" "$f"
	sed -i "s/\"temperature5\": $t5/\"temperature5\": 34/" "$f"
	run dev_item 10001 1
	assert_output --partial '"temperature5":{"N":"34"}'
	# list a partition (a Query) and find the table (a Scan)
	run ls "$MNT/$DEV/10001"
	assert_output "$(devices_jq -r '.[] | select(.device_id == "10001") | "\(.datacount).json"' | sort)"
	assert_output "1.json
2.json"
	run sh -c "find '$MNT/$DEV' -name '*.json' | wc -l"
	assert_output "$n_items"
	# delete one with rm
	rm "$MNT/$DEV/10002/2.json"
	run dev_item 10002 2
	assert_output NONE
	run ddbtool count "$DEV"
	assert_output "$((n_items - 1))"
	# remove everything and the table
	rm -r "$MNT/$DEV"/*
	run ddbtool count "$DEV"
	assert_output 0
	rmdir "$MNT/$DEV"
	run ddbtool tables
	refute_line "$DEV"
	unmount_fs
}

@test "the boto3 guide's users tutorial through the mount, each step checked with boto3" {
	U=$(uniq_table users)
	mount_fs
	mkdir "$MNT/$U,username,last_name"
	mkdir "$MNT/$U/janedoe"
	printf '{"first_name": "Jane", "age": 25, "account_type": "standard_user"}\n' \
		>"$MNT/$U/janedoe/Doe.json"
	for row in "johndoe John Doe 25" "bobsmith Bob Smith 18" "alicedoe Alice Doe 27"; do
		set -- $row
		mkdir -p "$MNT/$U/$1"
		printf '{"first_name": "%s", "age": %s, "account_type": "standard_user"}\n' \
			"$2" "$4" >"$MNT/$U/$1/$3.json"
	done
	run ddbtool get "$U" '{"username":{"S":"janedoe"},"last_name":{"S":"Doe"}}'
	assert_output '{"account_type":{"S":"standard_user"},"age":{"N":"25"},"first_name":{"S":"Jane"},"last_name":{"S":"Doe"},"username":{"S":"janedoe"}}'
	# update age with sed -i
	sed -i 's/"age": 25/"age": 26/' "$MNT/$U/janedoe/Doe.json"
	run ddbtool get "$U" '{"username":{"S":"janedoe"},"last_name":{"S":"Doe"}}'
	assert_output --partial '"age":{"N":"26"}'
	# query one user's partition
	run ls "$MNT/$U/johndoe"
	assert_output Doe.json
	# delete, and the emptied partition stays until rmdir
	rm "$MNT/$U/janedoe/Doe.json"
	run ddbtool get "$U" '{"username":{"S":"janedoe"},"last_name":{"S":"Doe"}}'
	assert_output NONE
	run ls "$MNT/$U"
	assert_line janedoe
	rmdir "$MNT/$U/janedoe"
	run ls "$MNT/$U"
	refute_line janedoe
	rm -r "$MNT/$U"
	run ddbtool tables
	refute_line "$U"
	unmount_fs
}
