# shellcheck shell=bash
# fastbuild.sh - which taglockfs build the scripts make on this machine, and
# one line saying which and why. Used by scripts/demo.sh,
# scripts/plugin-build.sh and scripts/plugin-install.sh.
#
# Source it from the checkout's root, then:
#   tlk_build_setup [DIR]
#       Chooses the build and configures its directory when it has no
#       build.ninja yet; sets TLK_BUILD (the directory) and TLK_BUILD_WHY.
#       DIR given: that directory; an already configured one is used as it
#       is. DIR empty: build-fast for the passthrough build, build for the
#       classic one. Returns 1 (with a message) when meson setup fails.
#   tlk_build_line
#       After compiling: prints "build: <libfuse, data path> in DIR/ (why)",
#       read from the binary itself (its --version, ldd, compile flags).
#
# The choice (README "Builds"): kernel FUSE passthrough needs Linux >= 6.9
# and libfuse >= 3.17.
#   - kernel too old, or TLK_FAST_BUILD=0: the classic build against the
#     system libfuse;
#   - system libfuse >= 3.17: against it, -Dpassthrough=enabled;
#   - system libfuse older: libfuse 3.17 built from Debian's source as a
#     static library (scripts/build-libfuse.sh --static) and linked into
#     the binary. Static, so the binary needs no libfuse at run time and an
#     installed copy depends on nothing inside this checkout (no RUNPATH, no
#     library to install beside it); if that build fails (no network, no
#     apt), the classic build, and the line says so.

tlk_kernel_passthrough_min=6.9
tlk_libfuse_passthrough_min=3.17

# tlk_version_ge A B: A >= B, as version strings.
tlk_version_ge() {
	[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]
}

# tlk_configure DIR PKG_CONFIG_PATH MESON-OPTIONS...: meson setup, quietly.
tlk_configure() {
	local dir=$1 pcpath=$2 log
	shift 2
	log=$(mktemp "${TMPDIR:-/tmp}/taglockfs-setup.XXXXXX")
	if ! PKG_CONFIG_PATH=$pcpath meson setup "$dir" "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		echo "build: meson setup $dir failed (log: $log)" >&2
		return 1
	fi
	rm -f "$log"
}

tlk_build_setup() {
	local dir=${1:-} kernel sysfuse pcdir log
	kernel=$(uname -r | sed 's/^\([0-9]*\.[0-9]*\).*/\1/')
	sysfuse=$(pkg-config --modversion fuse3 2>/dev/null) || sysfuse=0
	TLK_BUILD_WHY=
	if [ -n "$dir" ] && [ -f "$dir/build.ninja" ]; then
		TLK_BUILD=$dir
		TLK_BUILD_WHY="$dir was configured before and is used as it is; remove it, or name no directory, to let the script choose"
		return 0
	fi
	if [ "${TLK_FAST_BUILD:-1}" = 0 ]; then
		TLK_BUILD_WHY="TLK_FAST_BUILD=0"
	elif ! tlk_version_ge "$kernel" "$tlk_kernel_passthrough_min"; then
		TLK_BUILD_WHY="kernel $kernel has no FUSE passthrough, it needs $tlk_kernel_passthrough_min"
	elif tlk_version_ge "$sysfuse" "$tlk_libfuse_passthrough_min"; then
		TLK_BUILD=${dir:-build-fast}
		TLK_BUILD_WHY="kernel $kernel and the system libfuse $sysfuse support it"
		[ -f "$TLK_BUILD/build.ninja" ] ||
			tlk_configure "$TLK_BUILD" "${PKG_CONFIG_PATH:-}" -Dpassthrough=enabled
		return
	else
		log=$(mktemp "${TMPDIR:-/tmp}/taglockfs-libfuse.XXXXXX")
		if scripts/build-libfuse.sh --static >"$log" 2>&1; then
			rm -f "$log"
			pcdir=$(dirname "$(find "$PWD/.libfuse/prefix-static" -name fuse3.pc -path '*/pkgconfig/*' | head -n1)")
			TLK_BUILD=${dir:-build-fast}
			TLK_BUILD_WHY="kernel $kernel supports it, the system libfuse $sysfuse does not"
			[ -f "$TLK_BUILD/build.ninja" ] ||
				tlk_configure "$TLK_BUILD" "$pcdir" -Dpassthrough=enabled
			return
		fi
		tail -n 5 "$log" >&2
		TLK_BUILD_WHY="kernel $kernel supports passthrough, but building libfuse 3.17 from Debian's source failed (log: $log)"
	fi
	TLK_BUILD=${dir:-build}
	[ -f "$TLK_BUILD/build.ninja" ] || tlk_configure "$TLK_BUILD" "${PKG_CONFIG_PATH:-}"
}

tlk_build_line() {
	local bin=$TLK_BUILD/taglockfs version lib where path
	version=$("$bin" --version 2>/dev/null | sed -n 's/.*(libfuse \([^)]*\)).*/\1/p' | head -n1)
	lib=$(ldd "$bin" 2>/dev/null | awk '/libfuse3/ { print $3 }')
	if [ -z "$lib" ]; then
		where="static, built from Debian's source"
	else
		where=$(readlink -f "$lib")
		case "$where" in
		"$PWD"/*) where="shared, from this checkout: $where" ;;
		*) where="shared, $where" ;;
		esac
	fi
	if grep -q 'TLK_HAVE_PASSTHROUGH=1' "$TLK_BUILD/compile_commands.json" 2>/dev/null; then
		path="kernel passthrough"
	else
		path="classic data path"
	fi
	echo "build: libfuse ${version:-?} ($where) + $path, in ${TLK_BUILD%/}/ ($TLK_BUILD_WHY)"
}

# tlk_build_daemon_and_plugin DIR CALLER [--deps]: the taglockfs and
# taglockfs-plugin binaries the packaging scripts ship. DIR (may be empty)
# is used as it is when it already holds both; otherwise a build is set up
# (tlk_build_setup; with --deps, scripts/deps.sh build first) and both are
# compiled. Sets TLK_BUILD and prints the build line; exits 1 on failure.
tlk_build_daemon_and_plugin() {
	local dir=$1 caller=$2 deps=${3:-}
	if [ -z "$dir" ] || [ ! -x "$dir/taglockfs" ] ||
		[ ! -x "$dir/src/plugin/taglockfs-plugin" ]; then
		[ "$deps" != --deps ] || scripts/deps.sh build
		tlk_build_setup "$dir"
		meson compile -C "$TLK_BUILD" taglockfs taglockfs-plugin >/dev/null 2>&1 || {
			echo "$caller: meson compile -C $TLK_BUILD taglockfs taglockfs-plugin failed" >&2
			exit 1
		}
	else
		TLK_BUILD=$dir
		TLK_BUILD_WHY="-b $dir, used as it is"
	fi
	tlk_build_line
}
