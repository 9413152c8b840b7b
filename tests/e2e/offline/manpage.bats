#!/usr/bin/env bats
# manpage.bats - the man page meson builds from docs/dynamofs.1.scd renders
# without warnings, and its OPTIONS section names exactly the options that
# `dynamofs --help` prints (dynamofs's own and libfuse's). Needs no server.

load ../helpers

setup() {
	PAGE="$DYNAMOFS_BUILD/dynamofs.1"
	[ -x "$DYNAMOFS" ] || fail "not built: $DYNAMOFS"
	command -v scdoc >/dev/null || fail "scdoc is not installed (scripts/deps installs it)"
	[ -f "$PAGE" ] || fail "not built: $PAGE (meson builds it when scdoc was found at setup)"
	command -v man >/dev/null || fail "man is not installed"
}

# The page as text, wide enough that no option term wraps or is hyphenated;
# Unicode hyphens and minus signs made ASCII.
render() {
	MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$PAGE" 2>/dev/null | col -bx |
		sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g'
}

# Option names from option lines on stdin (lines that start, after the
# indent, with '-'): "-o NAME=VALUE" gives "NAME=", "-o [no]WORD" gives
# "WORD", "-o A,B" gives "A" and "B", "-x" and "--long" give themselves.
# A line's options end at the first word that is none of these (the
# description), so words in descriptions are never taken.
option_names() {
	awk '
	function emit_o(v,   parts, m, j, p) {
		m = split(v, parts, ",")
		for (j = 1; j <= m; j++) {
			p = parts[j]
			sub(/^\[no\]/, "", p)
			sub(/=.*/, "=", p)
			if (p != "")
				print p
		}
	}
	/^[ \t]+-/ {
		n = split($0, t, /[ \t]+/)
		for (i = 2; i <= n; i++) {
			w = t[i]
			sub(/,$/, "", w)
			if (w == "-o" && i < n) {
				i++
				v = t[i]
				sub(/,$/, "", v)
				emit_o(v)
				continue
			}
			if (w ~ /^--?[A-Za-z]/) {
				sub(/=.*/, "", w)
				print w
				continue
			}
			break
		}
	}' | sort -u
}

# Options --help prints: those at the start of its option lines, plus every
# --long form named anywhere (e.g. "(also --endpoint-url URL)").
help_options() {
	local help
	help=$("$DYNAMOFS" --help)
	{
		option_names <<<"$help"
		grep -oE -- '--[a-z][a-z-]+' <<<"$help"
	} | sort -u
}

# Options the man page's OPTIONS section (up to the next section heading)
# gives an entry: its term lines sit at the section's indent (7 columns).
man_options() {
	render | awk '/^OPTIONS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
		grep -E '^       -' | option_names
}

@test "the man page renders without warnings (man -l and groff -ww)" {
	run bash -c 'MANWIDTH=80 man -l --warnings=w "$1" 2>&1 >/dev/null' _ "$PAGE"
	assert_success
	assert_output ''
	run bash -c 'groff -t -ww -man -z "$1" 2>&1' _ "$PAGE"
	assert_success
	assert_output ''
}

@test "the man page has the sections a user looks for" {
	local text
	text=$(render)
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS LAYOUT 'FILE FORMAT' ERRORS \
		ENVIRONMENT FILES EXAMPLES FSTAB; do
		grep -qx "$s" <<<"$text" || fail "no section $s"
	done
	for w in AWS_ACCESS_KEY_ID AWS_PROFILE AWS_ENDPOINT_URL_DYNAMODB \
		'~/.aws/credentials' '~/.aws/config' fuse.dynamofs EXDEV ENOSPC; do
		grep -qF -- "$w" <<<"$text" || fail "the page never mentions $w"
	done
}

@test "the option extraction finds what it should (guards the next two tests)" {
	local help man
	help=$(help_options)
	man=$(man_options)
	# A sample of each shape, from both sides.
	for o in endpoint= region= ro format= consistent_read tables= log= \
		--endpoint-url --region --profile --check -f -d -h --help -V \
		--version _netdev nofail debug -s clone_fd auto_cache umask= \
		modules= rellinks allow_other; do
		grep -qxF -- "$o" <<<"$help" || fail "not found in --help: $o"
		grep -qxF -- "$o" <<<"$man" || fail "not found in the man page: $o"
	done
	[ "$(wc -l <<<"$help")" -ge 40 ] || fail "too few options in --help: $help"
}

@test "every option dynamofs --help prints has an entry in the man page" {
	local missing
	missing=$(comm -23 <(help_options) <(man_options))
	[ -z "$missing" ] || fail "in --help but not in the man page's OPTIONS: $missing"
}

@test "every option in the man page's OPTIONS section is one dynamofs --help prints" {
	local extra
	extra=$(comm -13 <(help_options) <(man_options))
	[ -z "$extra" ] || fail "in the man page's OPTIONS but not in --help: $extra"
}
