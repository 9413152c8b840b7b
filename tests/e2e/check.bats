#!/usr/bin/env bats
# check.bats - dynamofs --version, --help and --check against a real local
# DynamoDB: where each setting comes from, and one clear line when it fails.

load helpers

setup() {
	clean_aws_env
}

teardown() {
	stop_proxy
}

# Starts the signature-checking proxy in front of the server; sets PROXY_URL.
start_sigcheck_proxy() {
	printf '{"AKIDLOCALTEST": "local-secret-not-real"}' >"$BATS_TEST_TMPDIR/keys.json"
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/sigcheck_proxy.py" \
		"$DYNAMOFS_ENDPOINT" "$BATS_TEST_TMPDIR/keys.json"
}

@test "--version prints the version" {
	run "$DYNAMOFS" --version
	assert_success
	assert_output --regexp '^dynamofs [0-9]+\.[0-9]+\.[0-9]+ '
}

@test "--help names every option of the command line" {
	run "$DYNAMOFS" --help
	assert_success
	for opt in endpoint= region= profile= ' ro ' format= hash_key= range_key= \
		cache_ttl= cache_size= consistent_read tables= retries= timeout= log= \
		--endpoint-url --region --profile --help --version --check ' -f ' ' -d ' \
		_netdev; do
		assert_output --partial -- "$opt"
	done
}

@test "--check with credentials from the environment" {
	local_creds
	run "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT"
	assert_success
	assert_line "endpoint:    $DYNAMOFS_ENDPOINT (option endpoint=)"
	assert_line --regexp '^region: +us-east-1 \(.*explicit endpoint.*\)$'
	assert_line --regexp '^credentials: environment'
	assert_line --regexp '^ListTables: +OK, [0-9]+ tables?( or more)? \([0-9]+ ms\)$'
	refute_output --partial local-secret-not-real
}

@test "--check with credentials and region from a profile in HOME" {
	write_profile dev eu-west-3
	run "$DYNAMOFS" --check --endpoint-url "$DYNAMOFS_ENDPOINT" --profile dev
	assert_success
	assert_line --regexp "^region: +eu-west-3 \\(region in profile \"dev\" in $HOME/.aws/config\\)$"
	assert_line "credentials: profile \"dev\" in $HOME/.aws/credentials"
	assert_line --regexp '^ListTables: +OK'
	refute_output --partial profile-secret-dev
}

@test "--profile=NAME, --region=NAME and --endpoint-url=URL read as --opt VALUE does" {
	write_profile dev eu-west-3
	run "$DYNAMOFS" --check --endpoint-url="$DYNAMOFS_ENDPOINT" --profile=dev
	assert_success
	assert_line "endpoint:    $DYNAMOFS_ENDPOINT (option endpoint=)"
	assert_line --regexp '^profile: +dev \(option profile=\)$'
	assert_line "credentials: profile \"dev\" in $HOME/.aws/credentials"
	assert_line --regexp '^ListTables: +OK'
	run "$DYNAMOFS" --check --endpoint-url="$DYNAMOFS_ENDPOINT" --profile=dev --region=ap-south-1
	assert_success
	assert_line --regexp '^region: +ap-south-1 \(option region=\)$'
}

@test "a long option without its value, or an unknown one: one line, exit 1" {
	local_creds
	run --separate-stderr "$DYNAMOFS" --check --endpoint-url="$DYNAMOFS_ENDPOINT" --profile
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: option --profile needs a value: --profile NAME or --profile=NAME" ]]
	run --separate-stderr "$DYNAMOFS" --check --endpoint-url="$DYNAMOFS_ENDPOINT" --profiles=dev
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: unknown option --profiles=dev (see dynamofs --help)" ]]
}

@test "--check takes the profile from AWS_PROFILE and the endpoint from AWS_ENDPOINT_URL_DYNAMODB" {
	write_profile other
	export AWS_PROFILE=other AWS_ENDPOINT_URL_DYNAMODB="$DYNAMOFS_ENDPOINT"
	run "$DYNAMOFS" --check
	assert_success
	assert_line "endpoint:    $DYNAMOFS_ENDPOINT (AWS_ENDPOINT_URL_DYNAMODB)"
	assert_line --regexp '^profile: +other \(AWS_PROFILE\)$'
	assert_line "credentials: profile \"other\" in $HOME/.aws/credentials"
}

@test "--check takes the endpoint from SOURCE, and the environment beats a profile" {
	local_creds
	write_profile default
	run "$DYNAMOFS" --check "$DYNAMOFS_ENDPOINT"
	assert_success
	assert_line "endpoint:    $DYNAMOFS_ENDPOINT (SOURCE argument)"
	assert_line --regexp '^credentials: environment'
}

@test "--check names SOURCE as where a region came from, and the option as where the endpoint did" {
	local_creds
	run "$DYNAMOFS" --check ap-south-1 --endpoint-url "$DYNAMOFS_ENDPOINT"
	assert_success
	assert_line --regexp '^region: +ap-south-1 \(SOURCE argument\)$'
	assert_line "endpoint:    $DYNAMOFS_ENDPOINT (option endpoint=)"
	# SOURCE and the same option: the option is named
	run "$DYNAMOFS" --check "$DYNAMOFS_ENDPOINT" -o endpoint="$DYNAMOFS_ENDPOINT"
	assert_success
	assert_line "endpoint:    $DYNAMOFS_ENDPOINT (option endpoint=)"
}

@test "--check sees a table made by the AWS CLI" {
	local_creds
	awsl dynamodb create-table --table-name checkseen$$ \
		--attribute-definitions AttributeName=pk,AttributeType=S \
		--key-schema AttributeName=pk,KeyType=HASH \
		--billing-mode PAY_PER_REQUEST >/dev/null
	run "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT"
	# dynalite refuses to delete a table still CREATING: wait until ACTIVE
	# (the CLI's waiter would sleep 20 s between its polls)
	local i
	for i in $(seq 1 100); do
		[ "$(awsl dynamodb describe-table --table-name checkseen$$ \
			--query Table.TableStatus --output text)" = ACTIVE ] && break
		sleep 0.1
	done
	awsl dynamodb delete-table --table-name checkseen$$ >/dev/null
	assert_success
	assert_line --regexp '^ListTables: +OK, [1-9][0-9]* tables?'
}

@test "missing credentials: one line, exit 1" {
	run --separate-stderr timeout 20 "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: "*credentials* ]]
}

@test "half a key pair in the environment: one line naming the missing variable" {
	export AWS_ACCESS_KEY_ID=AKIDONLY
	run --separate-stderr timeout 20 "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *AWS_SECRET_ACCESS_KEY* ]]
}

@test "unknown profile: one line naming it, exit 1" {
	local_creds
	write_profile dev
	run --separate-stderr timeout 20 "$DYNAMOFS" --check --endpoint-url "$DYNAMOFS_ENDPOINT" --profile nosuch
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *'"nosuch"'* ]]
}

@test "unreachable endpoint: one line, exit 1, within the time-out" {
	local_creds
	port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run --separate-stderr timeout 30 "$DYNAMOFS" --check -o endpoint="http://127.0.0.1:$port",timeout=2
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: cannot reach http://127.0.0.1:$port"* ]]
}

@test "a server that never answers: time-out, one line, exit 1" {
	local_creds
	# A listening socket that never accepts: the request must time out.
	"$PY" -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(0); print(s.getsockname()[1], flush=True); time.sleep(60)' \
		>"$BATS_TEST_TMPDIR/port" &
	PROXY_PID=$!
	for _ in $(seq 1 50); do [ -s "$BATS_TEST_TMPDIR/port" ] && break; sleep 0.1; done
	port=$(cat "$BATS_TEST_TMPDIR/port")
	run --separate-stderr timeout 30 "$DYNAMOFS" --check -o endpoint="http://127.0.0.1:$port",timeout=1,retries=1
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"cannot reach http://127.0.0.1:$port"* ]]
	[[ "$stderr" == *"time"* ]]
}

@test "a wrong secret against a server that checks signatures: clear error, exit 1" {
	start_sigcheck_proxy
	export AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=wrong-secret
	run --separate-stderr timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"rejected the credentials"*InvalidSignatureException* ]]
	[[ "$stderr" != *wrong-secret* ]]
}

@test "an unknown key id against a server that checks signatures: clear error, exit 1" {
	start_sigcheck_proxy
	export AWS_ACCESS_KEY_ID=AKIDUNKNOWN AWS_SECRET_ACCESS_KEY=whatever
	run --separate-stderr timeout 30 "$DYNAMOFS" --check -o endpoint="$PROXY_URL"
	assert_failure 1
	[[ "$stderr" == *UnrecognizedClientException* ]]
}

@test "the right secret and a session token pass the signature check" {
	start_sigcheck_proxy
	export AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-secret-not-real
	export AWS_SESSION_TOKEN=session-token-for-test
	run "$DYNAMOFS" --check -o endpoint="$PROXY_URL"
	assert_success
	assert_line --regexp '^ListTables: +OK'
}

@test "bad option values: one line naming the option, exit 1" {
	local_creds
	for bad in format=xml retries=abc retries=-1 cache_ttl=-1 cache_size=0 \
		timeout=0 log=loud hash_key=id:X range_key=:S tables=a \
		cache_ttl=nan cache_size=nan timeout=nan cache_ttl=inf timeout=-inf \
		cache_size=1e999 retries=nan retries=1.5 tables= tables=abc: \
		profile= region= range_key=pk; do
		run --separate-stderr "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT",$bad
		assert_failure 1
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == *"bad option ${bad%%=*}="* ]]
	done
}

@test "an unknown option: one line, exit 1" {
	local_creds
	run --separate-stderr "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT",nosuchoption=1
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *nosuchoption* ]]
}

@test "fstab words are accepted" {
	local_creds
	run "$DYNAMOFS" --check -o endpoint="$DYNAMOFS_ENDPOINT",_netdev,auto,noauto,user,nofail,rw,nosuid,nodev
	assert_success
}
