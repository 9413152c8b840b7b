# common.sh - shared by scripts/deps, scripts/test and scripts/demo: paths,
# installing what is missing, and starting/stopping the local DynamoDB servers.
# Sourced, not run.

DYNAMOFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DYNAMOFS_CACHE="$DYNAMOFS_ROOT/.cache"
DDBLOCAL_VERSION=2.9.30
DDBLOCAL_DIR="$DYNAMOFS_CACHE/ddblocal/package/emulator"
DYNALITE_BIN="$DYNAMOFS_CACHE/npm/node_modules/.bin/dynalite"

# Debian packages to build, test and demo dynamofs.
DYNAMOFS_DEBS=(gcc meson ninja-build pkg-config libfuse3-dev fuse3
	libcurl4-openssl-dev libssl-dev libjansson-dev libinih-dev zlib1g-dev libexpat1-dev
	bats bats-assert bats-support python3-boto3 python3-botocore awscli
	jq tmux vim nano valgrind curl iproute2 procps psmisc attr
	scdoc man-db groff-base bsdextrautils
	dpkg-dev debhelper build-essential rpm systemd
	clang libclang-rt-14-dev clang-format)

say() { printf '%s\n' "$*" >&2; }

# Installs the Debian packages above that are missing (apt-get update first).
install_debs() {
	local missing=() p
	for p in "${DYNAMOFS_DEBS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
	command -v npm >/dev/null || missing+=(nodejs npm)
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing Debian packages: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		say "run as root, or install them yourself: apt-get install ${missing[*]}"
		return 1
	fi
	apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null
}

# DynamoDB Local from the npm package that ships it, into .cache/ddblocal.
install_ddblocal() {
	[ -f "$DDBLOCAL_DIR/DynamoDBLocal.jar" ] && return 0
	say "fetching DynamoDB Local (amplify-dynamodb-simulator@$DDBLOCAL_VERSION)"
	mkdir -p "$DYNAMOFS_CACHE/ddblocal"
	(cd "$DYNAMOFS_CACHE/ddblocal" &&
		npm pack --silent "amplify-dynamodb-simulator@$DDBLOCAL_VERSION" >/dev/null &&
		tar xzf "amplify-dynamodb-simulator-$DDBLOCAL_VERSION.tgz" &&
		rm -f "amplify-dynamodb-simulator-$DDBLOCAL_VERSION.tgz") || return 1
	[ -f "$DDBLOCAL_DIR/DynamoDBLocal.jar" ]
}

# dynalite at the version pinned by tests/servers/package-lock.json.
install_dynalite() {
	local lock="$DYNAMOFS_ROOT/tests/servers/package-lock.json"
	if [ -x "$DYNALITE_BIN" ] && cmp -s "$lock" "$DYNAMOFS_CACHE/npm/package-lock.json"; then
		return 0
	fi
	say "installing dynalite (npm ci)"
	mkdir -p "$DYNAMOFS_CACHE/npm"
	cp "$DYNAMOFS_ROOT/tests/servers/package.json" "$lock" "$DYNAMOFS_CACHE/npm/"
	(cd "$DYNAMOFS_CACHE/npm" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) || return 1
	[ -x "$DYNALITE_BIN" ]
}

# Builds dir ($1) with extra meson options ($2...).
build_tree() {
	local dir="$DYNAMOFS_ROOT/$1"
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$DYNAMOFS_ROOT" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a local DynamoDB ($1: ddblocal or dynalite) on 127.0.0.1 and port $3
# (default: a free one); sets SERVER_PID and SERVER_ENDPOINT. The shim $DYNAMOFS_BIND_SHIM keeps
# DynamoDB Local (which has no host option) on loopback. Log in $2.
server_start() {
	local kind=$1 log=${2:-/dev/null} port=${3:-} i
	[ -n "$port" ] || port=$(free_port)
	case "$kind" in
	ddblocal)
		(cd "$DDBLOCAL_DIR" && exec env LD_PRELOAD="$DYNAMOFS_BIND_SHIM" \
			java -Djava.net.preferIPv4Stack=true \
			-Djava.library.path=DynamoDBLocal_lib -jar DynamoDBLocal.jar \
			-inMemory -sharedDb -disableTelemetry -port "$port") >"$log" 2>&1 &
		;;
	dynalite)
		"$DYNALITE_BIN" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
		;;
	*)
		say "unknown server $kind"
		return 1
		;;
	esac
	SERVER_PID=$!
	SERVER_ENDPOINT="http://127.0.0.1:$port"
	for i in $(seq 1 300); do
		if curl -s -o /dev/null -m 1 "$SERVER_ENDPOINT"; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "$kind did not start; its log:"
	cat "$log" >&2
	server_stop
	return 1
}

server_stop() {
	if [ -n "${SERVER_PID:-}" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
	return 0
}
