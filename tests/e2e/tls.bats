#!/usr/bin/env bats
# tls.bats - AWS_CA_BUNDLE and the profile's ca_bundle: DynamoDB over https
# through a TLS-terminating proxy (tests/tools/tlsproxy.py) whose certificate
# a throwaway CA made by the openssl CLI issued for 127.0.0.1. With the CA
# as the bundle, --check and a mount work (and the AWS CLI accepts the same
# bundle); without it, or with a bundle that is missing, one line and exit 1.

load helpers

setup() {
	clean_aws_env
	local_creds
	make_ca
	start_tls_proxy
}

teardown() {
	cleanup_mount
	stop_proxy
	local pid
	for pid in ${STS_TLS_PID:-} ${STS_PID:-}; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}

# Waits up to 10 s for file $1 to hold a port (the server writes it once it
# listens); false if process $2 dies first or it never comes.
# tests/tools/fakests.py behind a second TLS proxy with the same
# certificate; a profile "dev" that assumes $ROLE from "base" through it
# (AWS_ENDPOINT_URL_STS=https://127.0.0.1:PORT). Sets STS_LOG.
ROLE=arn:aws:iam::123456789012:role/dev
start_sts_tls() {
	local dir=$BATS_TEST_TMPDIR
	printf '{"region": "us-east-1", "keys": {"AKIDBASE": "base-secret-not-real"}}' >"$dir/sts.json"
	STS_LOG=$dir/sts.jsonl
	: >"$STS_LOG"
	start_fake sts "$PY" "$DYNAMOFS_ROOT/tests/tools/fakests.py" "$dir/sts.json" "$STS_LOG"
	STS_PID=$FAKE_PID
	[ -n "$FAKE_PORT" ] || return 1
	start_fake sts-tls "$PY" "$DYNAMOFS_ROOT/tests/tools/tlsproxy.py" \
		"http://127.0.0.1:$FAKE_PORT" "$dir/srv.pem" "$dir/srv.key"
	STS_TLS_PID=$FAKE_PID
	[ -n "$FAKE_PORT" ] || return 1
	export AWS_ENDPOINT_URL_STS="https://127.0.0.1:$FAKE_PORT"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	printf '[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret-not-real\n' \
		>"$HOME/.aws/credentials"
	printf '[profile dev]\nrole_arn = %s\nsource_profile = base\n' "$ROLE" \
		>"$HOME/.aws/config"
}

# Makes a CA ($CA, its key ca.key) and a certificate for 127.0.0.1 that it
# issued (srv.pem, srv.key), and a second, unrelated CA ($OTHER_CA).
make_ca() {
	local d=$BATS_TEST_TMPDIR
	CA=$d/ca.pem
	OTHER_CA=$d/other-ca.pem
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$d/ca.key" -out "$CA" -days 2 \
		-subj "/CN=dynamofs throwaway test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$d/other-ca.key" -out "$OTHER_CA" -days 2 \
		-subj "/CN=dynamofs other test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/srv.key" -out "$d/srv.csr" -subj "/CN=127.0.0.1" 2>/dev/null
	printf '%s\n' 'subjectAltName=IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
		'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
		'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' >"$d/srv.ext"
	openssl x509 -req -in "$d/srv.csr" -CA "$CA" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/srv.ext" -out "$d/srv.pem" 2>/dev/null
}

# The proxy, https on 127.0.0.1, in front of the server; sets HTTPS_URL and
# TLSLOG (one "connect" line per connection, one line per request).
start_tls_proxy() {
	TLSLOG=$BATS_TEST_TMPDIR/tls.log
	start_proxy "$PY" "$DYNAMOFS_ROOT/tests/tools/tlsproxy.py" \
		"$DYNAMOFS_ENDPOINT" "$BATS_TEST_TMPDIR/srv.pem" \
		"$BATS_TEST_TMPDIR/srv.key" "$TLSLOG"
	HTTPS_URL=https://127.0.0.1:${PROXY_URL##*:}
}

@test "AWS_CA_BUNDLE: --check and a mount over https (ls, cat, a write boto3 sees)" {
	T=$(uniq_table tls)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"a"},"v":{"N":"1"}}'
	export AWS_CA_BUNDLE=$CA
	run "$DYNAMOFS" --check --endpoint-url "$HTTPS_URL"
	assert_success
	assert_line "endpoint:    $HTTPS_URL (option endpoint=)"
	assert_line "ca_bundle:   $CA (AWS_CA_BUNDLE)"
	assert_line --regexp '^ListTables: +OK, [1-9][0-9]* tables?'
	grep -q '^POST /$' "$TLSLOG"

	MOUNT_SOURCE=$HTTPS_URL mount_fs -o tables="$T"
	run ls "$MNT"
	assert_output "$T"
	run ls "$MNT/$T"
	assert_output a.json
	run jq -c . "$MNT/$T/a.json"
	assert_output '{"id":"a","v":1}'
	printf '{"id": "b", "v": 2}\n' >"$MNT/$T/b.json"
	run ddbtool get "$T" '{"id":{"S":"b"}}'
	assert_output '{"id":{"S":"b"},"v":{"N":"2"}}'
	unmount_fs
	# every request of the mount went through the proxy, over TLS
	[ "$(grep -c '^POST /$' "$TLSLOG")" -ge 4 ]
}

@test "ca_bundle in the profile: --check names it and a mount works" {
	T=$(uniq_table tlsprof)
	ddbtool create "$T" id:S
	ddbtool put "$T" '{"id":{"S":"p"}}'
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	write_profile dev
	printf '[profile dev]\nca_bundle = %s\n' "$CA" >>"$HOME/.aws/config"
	run "$DYNAMOFS" --check --endpoint-url "$HTTPS_URL" --profile dev
	assert_success
	assert_line "ca_bundle:   $CA (ca_bundle in profile \"dev\" in $HOME/.aws/config)"
	assert_line --regexp '^ListTables: +OK'

	MOUNT_SOURCE=$HTTPS_URL mount_fs -o profile=dev,tables="$T"
	run ls "$MNT/$T"
	assert_output p.json
	unmount_fs
}

@test "AWS_CA_BUNDLE wins over the profile's ca_bundle" {
	write_profile dev
	printf '[profile dev]\nca_bundle = %s\n' "$OTHER_CA" >>"$HOME/.aws/config"
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	AWS_CA_BUNDLE=$CA run "$DYNAMOFS" --check --endpoint-url "$HTTPS_URL" --profile dev
	assert_success
	assert_line "ca_bundle:   $CA (AWS_CA_BUNDLE)"
	assert_line --regexp '^ListTables: +OK'
}

@test "without the CA: one line that says to set AWS_CA_BUNDLE, exit 1, nothing mounted" {
	run --separate-stderr timeout 20 "$DYNAMOFS" --check --endpoint-url "$HTTPS_URL"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: cannot reach $HTTPS_URL: TLS certificate of 127.0.0.1 not trusted ("*"): set AWS_CA_BUNDLE or ca_bundle in the profile to a PEM file with the CA that issued it" ]]
	# refused at once: a certificate is not retried
	[ "$(grep -c '^connect$' "$TLSLOG")" -eq 1 ]
	! grep -q '^POST' "$TLSLOG"

	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	run --separate-stderr timeout 20 "$DYNAMOFS" "$HTTPS_URL" "$MNT"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"TLS certificate of 127.0.0.1 not trusted"*AWS_CA_BUNDLE* ]]
	! mountpoint -q "$MNT"
}

@test "a bundle without the server's CA: one line naming the bundle" {
	export AWS_CA_BUNDLE=$OTHER_CA
	run --separate-stderr timeout 20 "$DYNAMOFS" --check --endpoint-url "$HTTPS_URL"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: cannot reach $HTTPS_URL: TLS certificate of 127.0.0.1 not trusted ("*"): no CA in the CA bundle $OTHER_CA issued it" ]]
}

@test "a certificate for another name: one line naming the host" {
	export AWS_CA_BUNDLE=$CA
	run --separate-stderr timeout 20 "$DYNAMOFS" --check --endpoint-url "https://localhost:${PROXY_URL##*:}"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: cannot reach https://localhost:"*": TLS certificate of localhost refused ("*localhost*")" ]]
}

@test "AWS_CA_BUNDLE or ca_bundle naming a missing file: one line naming it, exit 1, no request" {
	AWS_CA_BUNDLE=$BATS_TEST_TMPDIR/nope.pem run --separate-stderr \
		"$DYNAMOFS" --check --endpoint-url "$HTTPS_URL"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: CA bundle $BATS_TEST_TMPDIR/nope.pem (from AWS_CA_BUNDLE): No such file or directory" ]]

	printf '[default]\nca_bundle = ~/ca.pem\n' >"$HOME/.aws/config"
	cp "$CA" "$HOME/ca.pem"
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	run --separate-stderr "$DYNAMOFS" "$HTTPS_URL" "$MNT"
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "dynamofs: CA bundle ~/ca.pem (from ca_bundle in profile \"default\" in $HOME/.aws/config): No such file or directory (~ is not expanded, as in the AWS CLI)" ]]
	! mountpoint -q "$MNT"
	[ ! -s "$TLSLOG" ]
}

@test "STS over https: AssumeRole trusts the bundle too, and says so when it is missing" {
	start_sts_tls
	AWS_CA_BUNDLE=$CA run "$DYNAMOFS" --check --endpoint-url "$HTTPS_URL" --profile dev
	assert_success
	assert_line --regexp "^credentials: role $ROLE "
	assert_line --regexp '^ListTables: +OK'
	grep -q '"status": 200' "$STS_LOG"

	: >"$STS_LOG"
	run --separate-stderr timeout 20 "$DYNAMOFS" --check --endpoint-url "$DYNAMOFS_ENDPOINT" --profile dev
	assert_failure 1
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"STS AssumeRole of role $ROLE failed after 1 attempt: TLS certificate of 127.0.0.1 not trusted ("*"): set AWS_CA_BUNDLE or ca_bundle in the profile to a PEM file with the CA that issued it" ]]
	[ ! -s "$STS_LOG" ]
}

@test "the AWS CLI accepts the same bundle, from AWS_CA_BUNDLE and from the profile" {
	AWS_CA_BUNDLE=$CA run aws --endpoint-url "$HTTPS_URL" --region us-east-1 \
		--output json dynamodb list-tables
	assert_success
	assert_output --partial TableNames
	# one attempt: the CLI would retry the TLS failure for ~25 s
	AWS_MAX_ATTEMPTS=1 run aws --endpoint-url "$HTTPS_URL" --region us-east-1 dynamodb list-tables
	assert_failure
	assert_output --partial SSL

	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	write_profile dev
	printf '[profile dev]\nca_bundle = %s\n' "$CA" >>"$HOME/.aws/config"
	run aws --endpoint-url "$HTTPS_URL" --region us-east-1 --profile dev \
		--output json dynamodb list-tables
	assert_success
	assert_output --partial TableNames
}
