#!/usr/bin/env bats
# package.bats - what ships (issue 5): the .deb built from a clean tree
# (git archive HEAD, by packaging/build-deb through packaging/cached-deb,
# once per committed tree), its contents and control fields, the RPM spec
# (parsed, and built with rpmbuild where Debian's rpm has it), and the
# systemd examples (systemd-analyze verify). Needs no DynamoDB server.

load ../helpers

setup_file() {
	# One build for the whole file (and for ship.bats, through the cache).
	DEB=$("$DYNAMOFS_ROOT/packaging/cached-deb")
	export DEB
}

setup() {
	[ -f "$DEB" ] || fail "no .deb was built"
	X="$BATS_TEST_TMPDIR/x"
}

@test "build-deb builds the .deb from git archive HEAD" {
	run -0 dpkg-deb -f "$DEB" Package Version Architecture
	assert_line "Package: dynamofs"
	version=$(sed -n "s/^  version : '\(.*\)',$/\1/p" "$DYNAMOFS_ROOT/meson.build")
	assert_line "Version: $version"
	# The cache holds a build of exactly HEAD's tree.
	tree=$(git -C "$DYNAMOFS_ROOT" rev-parse 'HEAD^{tree}')
	[ "$(basename "$(dirname "$DEB")")" = "$tree" ]
	# dpkg-buildpackage ran the unit tests, and they passed.
	run -0 grep -E '^Ok: +[1-9]' "$(dirname "$DEB")/build.log"
	run -0 grep -E '^Fail: +0 *$' "$(dirname "$DEB")/build.log"
}

@test "the .deb holds the binary, the man page, README.Debian and the docs" {
	run -0 dpkg-deb -c "$DEB"
	assert_line --regexp ' \./usr/bin/dynamofs$'
	assert_line --regexp ' \./usr/share/doc/dynamofs/README\.Debian$'
	assert_line --regexp ' \./usr/share/doc/dynamofs/README\.md\.gz$'
	assert_line --regexp ' \./usr/share/doc/dynamofs/copyright$'
	assert_line --regexp ' \./usr/share/doc/dynamofs/examples/mnt-dynamodb\.mount$'
	assert_line --regexp ' \./usr/share/doc/dynamofs/examples/dynamofs@\.service$'
	for doc in "$DYNAMOFS_ROOT"/docs/*.md; do
		assert_line --regexp " \./usr/share/doc/dynamofs/$(basename "$doc")(\.gz)?\$"
	done
	if command -v scdoc >/dev/null; then
		assert_line --regexp ' \./usr/share/man/man1/dynamofs\.1\.gz$'
	fi
	# Nothing from the build or test trees.
	refute_line --regexp 'test_|sigv4-sign|bind_loopback|\.a$|include/'
}

@test "the .deb depends on fuse3 and the libraries it links" {
	run -0 dpkg-deb -f "$DEB" Depends
	assert_output --regexp '(^|, )fuse3(,|$)'
	assert_output --partial 'libfuse3-3'
	assert_output --partial 'libcurl4'
	assert_output --partial 'libjansson4'
	run -0 dpkg-deb -f "$DEB" Section Description
	assert_output --partial 'Section: utils'
}

@test "README.Debian says to add fuse.dynamofs to PRUNEFS" {
	dpkg -x "$DEB" "$X"
	run -0 grep -n 'PRUNEFS' "$X/usr/share/doc/dynamofs/README.Debian"
	run -0 grep -n 'fuse.dynamofs' "$X/usr/share/doc/dynamofs/README.Debian"
	run -0 grep -n '/etc/updatedb.conf' "$X/usr/share/doc/dynamofs/README.Debian"
	run -0 grep -n '^License: MIT' "$X/usr/share/doc/dynamofs/copyright"
	# The project's license, as meson.build states it.
	run -0 grep -n "license : 'MIT'" "$DYNAMOFS_ROOT/meson.build"
}

@test "the packaged binary runs and its man page renders" {
	dpkg -x "$DEB" "$X"
	run -0 "$X/usr/bin/dynamofs" --version
	assert_output --regexp '^dynamofs [0-9]+\.[0-9]+\.[0-9]+ '
	run -0 "$X/usr/bin/dynamofs" --help
	assert_output --partial '_netdev'
	if command -v man >/dev/null && [ -f "$X/usr/share/man/man1/dynamofs.1.gz" ]; then
		run -0 env MANWIDTH=80 man -l "$X/usr/share/man/man1/dynamofs.1.gz"
		assert_output --partial 'dynamofs'
	fi
}

@test "the Debian source package's files are well formed" {
	local d="$DYNAMOFS_ROOT/packaging/debian"
	run -0 grep -x 'Build-Depends: debhelper-compat (= 13),' "$d/control"
	run -0 grep -n 'scdoc' "$d/control"
	run -0 grep -x $'\tdh $@ --buildsystem=meson' "$d/rules"
	run -0 cat "$d/source/format"
	assert_output '3.0 (native)'
	[ -x "$d/rules" ]
	# The changelog's version is meson.build's.
	version=$(sed -n "s/^  version : '\(.*\)',$/\1/p" "$DYNAMOFS_ROOT/meson.build")
	run -0 dpkg-parsechangelog -l "$d/changelog" -S Version
	assert_output "$version"
}

# Fedora's meson macros (macros.meson, shipped by Fedora's meson package),
# which Debian's rpm lacks; the same expansions, shortened.
write_meson_macros() {
	cat >"$BATS_TEST_TMPDIR/macros.meson" <<'EOF'
%__meson %{_bindir}/meson
%_vpath_srcdir .
%_vpath_builddir %{_vendor}-%{_target_os}-build
%meson %{shrink:%{__meson} setup --buildtype=plain --prefix=%{_prefix} --libdir=%{_libdir} --mandir=%{_mandir} --wrap-mode=nodownload %{_vpath_srcdir} %{_vpath_builddir}}
%meson_build %{shrink:%{__meson} compile -C %{_vpath_builddir} -j %{_smp_build_ncpus} --verbose}
%meson_install %{shrink:DESTDIR=%{buildroot} %{__meson} install -C %{_vpath_builddir} --no-rebuild}
%meson_test %{shrink:%{__meson} test -C %{_vpath_builddir} --num-processes %{_smp_build_ncpus} --print-errorlogs}
EOF
}

@test "the RPM spec parses and uses the meson macros" {
	command -v rpmspec >/dev/null || skip "rpm is not installed"
	local spec="$DYNAMOFS_ROOT/packaging/rpm/dynamofs.spec"
	write_meson_macros
	run -0 grep -c '^%meson' "$spec"
	run -0 grep -x '%meson_build' "$spec"
	run -0 grep -x '%meson_install' "$spec"
	run -0 grep -E '^%meson_test( |$)' "$spec"
	run -0 rpmspec --load "$BATS_TEST_TMPDIR/macros.meson" -P "$spec"
	assert_output --regexp 'meson setup .*-Dwerror=false'
	refute_output --regexp '^%(meson|autosetup)'
	run -0 rpmspec --load "$BATS_TEST_TMPDIR/macros.meson" -q \
		--qf '%{name} %{version} %{license}\n' "$spec"
	version=$(sed -n "s/^  version : '\(.*\)',$/\1/p" "$DYNAMOFS_ROOT/meson.build")
	assert_output "dynamofs $version MIT"
	run -0 rpmspec -q --requires "$spec"
	assert_line 'fuse3'
}

@test "rpmbuild builds the spec from git archive HEAD" {
	command -v rpmbuild >/dev/null || skip "rpmbuild is not installed"
	local top="$BATS_TEST_TMPDIR/rpm" spec="$DYNAMOFS_ROOT/packaging/rpm/dynamofs.spec" version
	write_meson_macros
	version=$(rpmspec --load "$BATS_TEST_TMPDIR/macros.meson" -q --qf '%{version}\n' "$spec")
	mkdir -p "$top/SOURCES"
	git -C "$DYNAMOFS_ROOT" archive --prefix="dynamofs-$version/" \
		-o "$top/SOURCES/dynamofs-$version.tar.gz" HEAD
	# --nodeps: Debian's rpm database knows none of the BuildRequires;
	# --nocheck: the unit tests ran in the .deb build already.
	run rpmbuild --load "$BATS_TEST_TMPDIR/macros.meson" --define "_topdir $top" \
		--nodeps --nocheck -bb "$spec"
	[ "$status" -eq 0 ] || { echo "$output" | tail -30; false; }
	run -0 rpm -qlp "$top"/RPMS/*/dynamofs-"$version"-*.rpm
	assert_line '/usr/bin/dynamofs'
	assert_line --regexp '^/usr/share/man/man1/dynamofs\.1'
	assert_line --regexp '^/usr/share/doc/dynamofs.*/systemd/dynamofs@\.service$'
	assert_line --regexp '^/usr/share/licenses/dynamofs'
}

@test "systemd-analyze verify accepts the mount unit and the service template" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	local u="$BATS_TEST_TMPDIR/units"
	dpkg -x "$DEB" "$X"
	mkdir -p "$u"
	# verify wants ExecStart's program to exist: point it at the package's.
	sed "s|/usr/bin/dynamofs|$X/usr/bin/dynamofs|" \
		"$DYNAMOFS_ROOT/packaging/systemd/dynamofs@.service" >"$u/dynamofs@.service"
	cp "$DYNAMOFS_ROOT/packaging/systemd/mnt-dynamodb.mount" "$u/"
	run -0 systemd-analyze verify --man=no "$u/mnt-dynamodb.mount" "$u/dynamofs@example.service"
	assert_output ''
	run -0 grep -x 'Type=fuse.dynamofs' "$u/mnt-dynamodb.mount"
	run -0 grep -x 'Where=/mnt/dynamodb' "$u/mnt-dynamodb.mount"
	run -0 grep -E '^Options=_netdev,' "$u/mnt-dynamodb.mount"
	run -0 grep -x 'After=network-online.target' "$u/dynamofs@.service"
	run -0 grep -x 'EnvironmentFile=/etc/dynamofs/%i.env' "$u/dynamofs@.service"
	run -0 grep -E '^ExecStart=[^ ]*/dynamofs -f ' "$u/dynamofs@.service"
	run -0 grep -E '^ExecStop=/usr/bin/fusermount3 -u ' "$u/dynamofs@.service"
	# The unit's name is its mount point's.
	run -0 systemd-escape -p --suffix=mount /mnt/dynamodb
	assert_output mnt-dynamodb.mount
}
