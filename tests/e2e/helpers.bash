# helpers.bash - loaded by every bats file: assertions, the binary under
# test, a clean AWS environment in a temporary HOME, and the server to use.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

DYNAMOFS_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
[ -f "$DYNAMOFS_ROOT/meson.build" ] || DYNAMOFS_ROOT=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)
DYNAMOFS_BUILD=${DYNAMOFS_BUILD:-$DYNAMOFS_ROOT/build}
DYNAMOFS="$DYNAMOFS_BUILD/dynamofs"
PY=/usr/bin/python3

# A fresh HOME with no AWS files and no AWS_* variables, so each test states
# exactly where settings come from. Never lets a test reach instance metadata.
clean_aws_env() {
	local v
	for v in $(env | sed -n 's/^\(AWS_[A-Z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
	export HOME="$BATS_TEST_TMPDIR/home"
	mkdir -p "$HOME/.aws"
	export AWS_EC2_METADATA_DISABLED=true
}

# Dummy credentials for the local servers.
local_creds() {
	export AWS_ACCESS_KEY_ID=AKIDLOCALTEST
	export AWS_SECRET_ACCESS_KEY=local-secret-not-real
}

# Writes a profile NAME with dummy keys (and region $2) to ~/.aws/credentials.
write_profile() {
	local name=$1 region=${2:-}
	cat >>"$HOME/.aws/credentials" <<EOT
[$name]
aws_access_key_id = AKIDPROFILE$name
aws_secret_access_key = profile-secret-$name
EOT
	if [ -n "$region" ]; then
		if [ "$name" = default ]; then
			printf '[default]\nregion = %s\n' "$region" >>"$HOME/.aws/config"
		else
			printf '[profile %s]\nregion = %s\n' "$name" "$region" >>"$HOME/.aws/config"
		fi
	fi
}

# The AWS CLI against the test server, with the test's environment.
awsl() {
	aws --endpoint-url "$DYNAMOFS_ENDPOINT" --region us-east-1 --output json "$@"
}

# Fails the test when the server under test is not $1 (for server quirks).
need_server() {
	[ "${DYNAMOFS_SERVER:-}" = "$1" ] || skip "only on $1"
}
