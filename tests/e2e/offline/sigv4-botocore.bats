#!/usr/bin/env bats
# sigv4-botocore.bats - the C signer (sigv4-sign) and botocore's SigV4Auth
# (botocore_sign.py) sign the same DynamoDB requests; the headers must match.

load ../helpers

setup() {
	ROOT=${DYNAMOFS_ROOT:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
	C_SIGN="$DYNAMOFS_BUILD/tests/sigv4-sign"
	BOTO_SIGN="$ROOT/tests/tools/botocore_sign.py"
	[ -x "$C_SIGN" ] || fail "not built: $C_SIGN"
	[ -f "$BOTO_SIGN" ] || fail "missing: $BOTO_SIGN"
	BODY="$BATS_TEST_TMPDIR/body"
	# Fake keys in the AWS documentation's style; nothing real.
	AKID=AKIDEXAMPLE
	SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
	REGION=us-east-1
	TIME=1700000000
	TARGET=DynamoDB_20120810.ListTables
	HOST=dynamodb.us-east-1.amazonaws.com
	TOKEN=
}

# The arguments both tools take, from the variables above.
sign_args() {
	local a=(--access-key "$AKID" --secret "$SECRET" --region "$REGION"
		--time "$TIME" --target "$TARGET" --host "$HOST"
		--body-file "$BODY")
	[ -n "$TOKEN" ] && a+=(--token "$TOKEN")
	printf '%s\0' "${a[@]}"
}

c_sign() {
	local args
	mapfile -d '' args < <(sign_args)
	"$C_SIGN" "${args[@]}"
}

boto_sign() {
	local args
	mapfile -d '' args < <(sign_args)
	/usr/bin/python3 "$BOTO_SIGN" "${args[@]}"
}

# Signs with both tools; both must succeed with one line each, equal, for
# the expected date, region and signed headers. Sets AUTH.
assert_same_signature() {
	run --separate-stderr c_sign
	assert_success
	[ -z "$stderr" ] || fail "sigv4-sign wrote on stderr: $stderr"
	local c=$output
	run --separate-stderr boto_sign
	assert_success
	local b=$output
	assert_equal "$(printf '%s\n' "$c" | wc -l)" 1
	assert_equal "$c" "$b"
	local day
	day=$(date -u -d "@$TIME" +%Y%m%d)
	[[ $c == "AWS4-HMAC-SHA256 Credential=$AKID/$day/$REGION/dynamodb/aws4_request, "* ]] ||
		fail "unexpected scope: $c"
	if [ -n "$TOKEN" ]; then
		assert_regex "$c" 'SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$'
	else
		assert_regex "$c" 'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$'
	fi
	AUTH=$c
}

@test "sigv4: ListTables without a session token matches botocore" {
	printf '{}' >"$BODY"
	assert_same_signature
}

@test "sigv4: ListTables with a session token matches botocore" {
	printf '{"Limit":10}' >"$BODY"
	TOKEN='FQoGZXIvYXdzEXAMPLE//token+with/slashes=and+plus=='
	assert_same_signature
}

@test "sigv4: unicode in the body matches botocore" {
	printf '{"TableName":"t\xc3\xa9st","Key":{"pk":{"S":"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 \\"q\\" \\\\ \\u00e9"}}}' >"$BODY"
	TARGET=DynamoDB_20120810.GetItem
	REGION=eu-west-1
	HOST=dynamodb.eu-west-1.amazonaws.com
	TIME=1440938160
	TOKEN=AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==
	assert_same_signature
}

@test "sigv4: empty body matches botocore" {
	: >"$BODY"
	TARGET=DynamoDB_20120810.DescribeEndpoints
	REGION=ap-southeast-2
	HOST=dynamodb.ap-southeast-2.amazonaws.com
	TIME=0
	assert_same_signature
}

@test "sigv4: local endpoint with a port, other regions and times match botocore" {
	printf '{"TableName":"t","Item":{"pk":{"S":"a"},"n":{"N":"1.5e3"}}}' >"$BODY"
	TARGET=DynamoDB_20120810.PutItem
	HOST=127.0.0.1:8000
	for t in 1 951782400 1700000000 4102444799; do
		for r in us-west-2 eu-central-1 cn-north-1; do
			TIME=$t REGION=$r assert_same_signature
		done
	done
}

@test "sigv4: a 1 MiB binary-ish body matches botocore" {
	head -c 1048576 /dev/urandom >"$BODY"
	TARGET=DynamoDB_20120810.BatchWriteItem
	TOKEN=short-token
	assert_same_signature
}

@test "sigv4: a long secret and access key match botocore" {
	printf '{}' >"$BODY"
	SECRET=$(printf 'k+/=%.0s' $(seq 1 100))
	AKID=ASIA$(printf 'X%.0s' $(seq 1 120))
	assert_same_signature
}

@test "sigv4: a changed secret gives a different signature" {
	printf '{"TableName":"t"}' >"$BODY"
	TOKEN=some-session-token
	assert_same_signature
	local first=$AUTH
	SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz
	assert_same_signature
	[ "$AUTH" != "$first" ] || fail "same signature for different secrets"
	# Only the signature changed: the scope and signed headers did not.
	assert_equal "${AUTH%Signature=*}" "${first%Signature=*}"
}

@test "sigv4: a changed token, body or time gives a different signature" {
	printf '{"TableName":"t"}' >"$BODY"
	TOKEN=token-one
	assert_same_signature
	local first=$AUTH
	TOKEN=token-two
	assert_same_signature
	[ "$AUTH" != "$first" ] || fail "token not signed"
	printf '{"TableName":"u"}' >"$BODY"
	assert_same_signature
	local third=$AUTH
	[ "$third" != "$first" ] || fail "body not signed"
	TIME=$((TIME + 1))
	assert_same_signature
	[ "$AUTH" != "$third" ] || fail "time not signed"
}
