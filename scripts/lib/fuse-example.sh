# shellcheck shell=bash
# fuse-example.sh - libfuse's own example filesystems (passthrough_hp and
# passthrough_ll), built from the libfuse source the project already
# fetches, as a yardstick for scripts/bench.sh --baseline: what a FUSE
# filesystem that does no work of its own reaches on this machine.
#
# Source it, then:
#   tlk_fuse_example_build REPO [DIR]
#       Builds the two examples into DIR (default REPO/.libfuse/examples,
#       git-ignored) from the unpacked Debian fuse3 source in
#       ${TLK_LIBFUSE_WORK:-REPO/.libfuse/src}/fuse3-* (the tree
#       scripts/build-libfuse.sh leaves; when there is none, that script is
#       run with --static to fetch it). Only the examples are compiled,
#       against a static libfuse built in DIR, so nothing is installed and
#       no libfuse code enters the checkout. Reuses binaries already there.
#       Sets TLK_EXAMPLE_DIR (where passthrough_hp and passthrough_ll are)
#       and TLK_EXAMPLE_VERSION (the libfuse version). Returns 1 with a
#       message on failure; its logs are in DIR/*.log.
#
# Needs meson, ninja, a C and a C++ compiler (passthrough_hp is C++).

tlk_fuse_example_build() {
	local repo=$1 dir=${2:-$1/.libfuse/examples} work srcdir bdir tool
	work=${TLK_LIBFUSE_WORK:-$repo/.libfuse/src}
	bdir=$dir/build
	TLK_EXAMPLE_DIR=$bdir/example
	if [ -x "$TLK_EXAMPLE_DIR/passthrough_hp" ] && [ -x "$TLK_EXAMPLE_DIR/passthrough_ll" ] &&
		[ -f "$dir/version" ]; then
		TLK_EXAMPLE_VERSION=$(cat "$dir/version")
		return 0
	fi
	srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'fuse3-*' 2>/dev/null | head -n1)
	if [ -z "$srcdir" ] || [ ! -f "$srcdir/meson.build" ]; then
		echo "fuse-example.sh: no libfuse source in $work; running scripts/build-libfuse.sh --static" >&2
		"$repo/scripts/build-libfuse.sh" --static >&2 || return 1
		srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'fuse3-*' | head -n1)
		[ -n "$srcdir" ] || { echo "fuse-example.sh: still no source in $work" >&2; return 1; }
	fi
	for tool in meson ninja c++; do
		command -v "$tool" >/dev/null || {
			echo "fuse-example.sh: missing $tool (apt-get install meson ninja-build g++)" >&2
			return 1
		}
	done
	mkdir -p "$dir"
	rm -rf "$bdir"
	echo "fuse-example.sh: building passthrough_hp and passthrough_ll from $srcdir into $bdir" >&2
	# Nothing is installed: the prefix only keeps meson from looking at /usr.
	if ! meson setup "$bdir" "$srcdir" --prefix="$dir/unused-prefix" --buildtype=release \
		-Ddefault_library=static -Dexamples=true -Dtests=false -Dutils=false \
		-Duseroot=false -Dinitscriptdir= >"$dir/meson-setup.log" 2>&1; then
		tail -n 20 "$dir/meson-setup.log" >&2
		return 1
	fi
	if ! meson compile -C "$bdir" passthrough_hp passthrough_ll >"$dir/meson-compile.log" 2>&1; then
		tail -n 20 "$dir/meson-compile.log" >&2
		return 1
	fi
	TLK_EXAMPLE_VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$srcdir/meson.build" | head -n1)
	[ -n "$TLK_EXAMPLE_VERSION" ] || TLK_EXAMPLE_VERSION=$(basename "$srcdir")
	echo "$TLK_EXAMPLE_VERSION" >"$dir/version"
}
