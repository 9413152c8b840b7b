#!/usr/bin/env bats
# demo.bats - the README's first command: scripts/demo starts DynamoDB Local,
# creates the Devices table and mounts it at ./mnt; scripts/demo stop undoes it.

load ../helpers

setup() {
	clean_aws_env
	DEMO_MNT="$DYNAMOFS_ROOT/mnt"
	if mountpoint -q "$DEMO_MNT"; then
		skip "a demo is already mounted at $DEMO_MNT"
	fi
}

teardown() {
	"$DYNAMOFS_ROOT/scripts/demo" stop >/dev/null 2>&1 || true
}

@test "scripts/demo mounts the Devices table at ./mnt and says what to try; stop undoes it" {
	run "$DYNAMOFS_ROOT/scripts/demo"
	assert_success
	assert_output --partial "dynamofs has mounted"
	assert_output --partial "ls mnt/Devices"
	mountpoint -q "$DEMO_MNT"
	run ls "$DEMO_MNT/Devices"
	assert_output "$(devices_jq -r '[.[].device_id] | unique | .[]')"
	assert_output "10001
10002
10003"
	run jq -r .info.temperature1 "$DEMO_MNT/Devices/10001/1.json"
	assert_output 37.2
	run jq -r .info.temperature2 "$DEMO_MNT/Devices/10001/1.json"
	assert_output 21.31
	# the table is the tutorial's data.json, item for item
	run sh -c "jq -cS . '$DEMO_MNT'/Devices/*/*.json | sort"
	assert_success
	assert_output "$(devices_jq -cS '.[]' | sort)"
	# a second run finds it mounted and changes nothing
	run "$DYNAMOFS_ROOT/scripts/demo"
	assert_success
	assert_output --partial "already mounted"
	run "$DYNAMOFS_ROOT/scripts/demo" stop
	assert_success
	run mountpoint -q "$DEMO_MNT"
	assert_failure
	[ ! -f "$DYNAMOFS_ROOT/.cache/demo/server.pid" ]
}
