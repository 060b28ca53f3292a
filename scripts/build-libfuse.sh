#!/usr/bin/env bash
# build-libfuse.sh - build libfuse 3.17.x from Debian trixie's `fuse3` source
# package (or 3.18.x from a newer suite, with FUSE over io_uring) into a
# local prefix, so taglockfs can be built with kernel FUSE passthrough on
# Debian 12 (which ships libfuse 3.14).
#
# Usage: scripts/build-libfuse.sh [--force] [--static] [--suite SUITE]
#                                 [--uring] [PREFIX]
#   PREFIX defaults to <repo>/.libfuse/prefix (git-ignored), with --static
#   to <repo>/.libfuse/prefix-static; the source and build trees go to
#   <repo>/.libfuse/src (an unpacked source there is reused; --force fetches
#   it again).
#   --static  build only the static library (libfuse3.a): a taglockfs linked
#             against it needs no libfuse at run time, so it can be
#             installed anywhere (scripts/lib/fastbuild.sh uses this)
#   --suite SUITE  take `fuse3` from this Debian suite (default trixie,
#             libfuse 3.17.x; forky and sid carry 3.18.x). Another suite
#             than trixie gets its own directories: .libfuse/prefix-SUITE
#             (-static), .libfuse/src-SUITE.
#   --uring   build FUSE over io_uring into the library (libfuse >= 3.18,
#             so the default suite becomes forky): installs liburing-dev
#             and libnuma-dev (bookworm's liburing 2.3 is enough, libfuse
#             needs IORING_SETUP_SQE128) when pkg-config finds no liburing
#             or numa, and fails unless the built library has it. A
#             --static build links liburing and libnuma statically too.
#             The daemon turns it on per mount with `-o io_uring`; the
#             kernel needs `enable_uring` (README "Performance").
#
# How: a temporary deb-src entry for the suite is added, pointing at the
# Debian mirror this machine's apt already uses (read from
# /etc/apt/sources.list and /etc/apt/sources.list.d/, one-line and deb822
# formats; TLK_DEBIAN_MIRROR=URI overrides), `apt-get source fuse3/SUITE`
# fetches and unpacks the package (Debian patches applied), the entry is
# removed again and apt's lists refreshed (also on failure), then libfuse is
# built with meson, without examples, tests, utilities, udev rules or init
# scripts. The shared build's fuse3.pc carries an rpath, so a taglockfs
# built against it runs without LD_LIBRARY_PATH (from this checkout only).
#
# Idempotent: does nothing when PREFIX already holds libfuse >= 3.17
# (>= 3.18 with io_uring for --uring).
# Needs root (apt), dpkg-dev, meson, ninja-build, gcc, pkg-config.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
force=0
static=0
uring=0
suite=
prefix=
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1 ;;
	--static) static=1 ;;
	--uring) uring=1 ;;
	--suite)
		[ $# -ge 2 ] || { echo "build-libfuse.sh: --suite needs a value" >&2; exit 2; }
		suite=$2
		shift
		;;
	-h | --help) sed -n '2,44p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "build-libfuse.sh: unknown option $1" >&2; exit 2 ;;
	*) prefix=$1 ;;
	esac
	shift
done
if [ -z "$suite" ]; then
	suite=trixie
	[ $uring -eq 0 ] || suite=forky
fi
case "$suite" in
*[!a-z0-9-]* | '') echo "build-libfuse.sh: bad suite name '$suite'" >&2; exit 2 ;;
esac
tag=
[ "$suite" = trixie ] || tag=-$suite
if [ $static -eq 1 ]; then
	prefix=${prefix:-$repo/.libfuse/prefix$tag-static}
	libkind=static libfile=libfuse3.a
else
	prefix=${prefix:-$repo/.libfuse/prefix$tag}
	libkind=shared libfile='libfuse3.so*'
fi
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=${TLK_LIBFUSE_WORK:-$(dirname "$prefix")/src$tag}
min_version=3.17
[ $uring -eq 0 ] || min_version=3.18
log() { echo "build-libfuse.sh: $*" >&2; }

# The directory holding fuse3.pc under PREFIX (meson on Debian installs to
# lib/x86_64-linux-gnu; other layouts are found too).
find_pc_dir() {
	local pc
	pc=$(find "$prefix" -name fuse3.pc -path '*/pkgconfig/*' 2>/dev/null | head -n1)
	[ -n "$pc" ] && dirname "$pc"
}

report() {
	local pcdir libdir version
	pcdir=$(find_pc_dir)
	version=$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion fuse3)
	libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir fuse3)
	[ $uring -eq 0 ] || version="$version with io_uring"
	if [ $static -eq 1 ]; then
		cat <<EOF
libfuse $version (static library) is installed in $prefix
  PKG_CONFIG_PATH=$pcdir
  a taglockfs built against it carries libfuse inside the binary
EOF
		return 0
	fi
	cat <<EOF
libfuse $version is installed in $prefix
  PKG_CONFIG_PATH=$pcdir
  library directory: $libdir (fuse3.pc adds -Wl,-rpath,$libdir, so no
  LD_LIBRARY_PATH is needed; without that rpath: LD_LIBRARY_PATH=$libdir)
Build taglockfs with passthrough:
  PKG_CONFIG_PATH=$pcdir meson setup build-pt -Dpassthrough=enabled
EOF
}

have_good_prefix() {
	local pcdir
	pcdir=$(find_pc_dir) || return 1
	[ -n "$pcdir" ] || return 1
	PKG_CONFIG_PATH=$pcdir pkg-config --atleast-version=$min_version fuse3 2>/dev/null || return 1
	local libdir
	libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir fuse3)
	compgen -G "$libdir/$libfile" >/dev/null || return 1
	[ $uring -eq 0 ] || has_uring "$libdir"
}

# has_uring LIBDIR: the library there was built with FUSE over io_uring
# (its io_uring code, lib/fuse_uring.c, defines fuse_uring_start).
has_uring() {
	local f
	for f in "$1"/$libfile; do
		[ -f "$f" ] || continue
		# Global in the static archive, local (t) in the shared library.
		# (grep -c reads all of nm's output: no SIGPIPE under pipefail)
		[ "$(nm "$f" 2>/dev/null | grep -c ' [Tt] fuse_uring_start$')" -gt 0 ] && return 0
	done
	return 1
}

if [ $force -eq 0 ] && have_good_prefix; then
	log "prefix already has libfuse >= $min_version; nothing to do (--force rebuilds)"
	report
	exit 0
fi

srcdir=
if [ $force -eq 0 ] && [ -d "$work" ]; then
	srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'fuse3-*' | head -n1)
	[ -n "$srcdir" ] && [ -f "$srcdir/meson.build" ] || srcdir=
fi

if [ -z "$srcdir" ] && [ "$(id -u)" -ne 0 ]; then
	log "needs root to add the temporary apt source; run as root"
	exit 1
fi
for tool in apt-get dpkg-source meson ninja pkg-config cc nm; do
	command -v "$tool" >/dev/null || {
		log "missing $tool (apt-get install dpkg-dev meson ninja-build pkg-config gcc)"
		exit 1
	}
done

fetch_source() {
	# ---- 1. find the Debian mirror apt already uses ---------------------------

	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

	# Print "URI<TAB>SUITE" for every enabled deb/deb-src entry on this machine.
	list_sources() {
		local f
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			# deb [opts] URI SUITE COMPONENTS...
			sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
				awk '($1 == "deb" || $1 == "deb-src") && NF >= 3 { print $2 "\t" $3 }'
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			# deb822 stanzas, separated by blank lines; Enabled: no skips one.
			awk '
			function flush(   i, j, nu, ns, u, s) {
				if (types ~ /(^| )deb(-src)?( |$)/ && enabled != "no") {
					nu = split(uris, u, " "); ns = split(suites, s, " ")
					for (i = 1; i <= nu; i++)
						for (j = 1; j <= ns; j++) print u[i] "\t" s[j]
				}
				types = uris = suites = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush() }' "$f"
		done
	}

	# The main Debian archive: an entry whose suite is a Debian release name
	# (the OS codename preferred); among those, a URI whose path ends in /debian.
	pick_mirror() {
		local uri suite best='' score bestscore=0
		while IFS=$'\t' read -r uri suite; do
			case "$suite" in
			*-security | */updates | *-updates | *-backports) continue ;;
			esac
			score=0
			case "$suite" in
			"$codename") score=4 ;;
			bullseye | bookworm | trixie | forky | sid | stable | testing | unstable) score=2 ;;
			*) continue ;;
			esac
			case "${uri%/}" in
			*/debian) score=$((score + 2)) ;;
			esac
			case "$uri" in
			*security*) continue ;;
			esac
			if [ $score -gt $bestscore ]; then
				best=$uri
				bestscore=$score
			fi
		done < <(list_sources)
		[ -n "$best" ] && echo "$best"
	}

	mirror=${TLK_DEBIAN_MIRROR:-$(pick_mirror || true)}
	if [ -z "$mirror" ]; then
		log "found no Debian archive entry in /etc/apt/sources.list{,.d}; set TLK_DEBIAN_MIRROR=URI"
		exit 1
	fi
	log "using the Debian mirror $mirror (from this machine's apt sources)"

	# ---- 2. fetch the suite's source package ---------------------------------

	tmp_src=/etc/apt/sources.list.d/taglockfs-$suite-src.sources
	apt_opts=(-o DPkg::Lock::Timeout=300 -q)
	cleanup_apt() {
		if [ -f "$tmp_src" ]; then
			rm -f "$tmp_src"
			log "removed the temporary apt source; refreshing apt lists"
			apt-get "${apt_opts[@]}" update >/dev/null 2>&1 ||
				log "warning: apt-get update after removing $tmp_src failed"
		fi
	}
	trap cleanup_apt EXIT
	trap 'exit 130' INT TERM HUP

	keyring=
	[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] &&
		keyring="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	cat >"$tmp_src" <<-EOF
	# Temporary entry written by taglockfs scripts/build-libfuse.sh; removed when it ends.
	Types: deb-src
	URIs: $mirror
	Suites: $suite
	Components: main
	$keyring
	EOF

	log "apt-get update (the temporary $suite deb-src entry only)"
	apt-get "${apt_opts[@]}" update \
		-o Dir::Etc::sourcelist="$tmp_src" -o Dir::Etc::sourceparts=- \
		-o APT::Get::List-Cleanup=0 >/dev/null

	rm -rf "$work"
	mkdir -p "$work"
	log "apt-get source fuse3/$suite into $work"
	(cd "$work" && apt-get "${apt_opts[@]}" source "fuse3/$suite" >/dev/null)
	cleanup_apt
	trap - EXIT

	srcdir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'fuse3-*' | head -n1)
	if [ -z "$srcdir" ] || [ ! -f "$srcdir/meson.build" ]; then
		log "apt-get source left no unpacked fuse3-* tree in $work"
		exit 1
	fi
	log "unpacked $(basename "$srcdir")"
}

if [ -n "$srcdir" ]; then
	log "reusing the unpacked source $srcdir (--force fetches it again)"
else
	fetch_source
fi

# ---- 3. build and install -----------------------------------------------------

# Pass only the options this libfuse release declares.
opts=()
declared() { grep -Eq "option\(['\"]$1['\"]" "$srcdir/meson_options.txt"; }
for o in examples tests utils; do
	declared "$o" && opts+=("-D$o=false")
done
# No udev rules or init scripts leave the prefix (only utils installs them;
# point them inside the prefix anyway in case a release changes that).
declared udevrulesdir && opts+=("-Dudevrulesdir=$prefix/lib/udev/rules.d")
declared initscriptdir && opts+=("-Dinitscriptdir=")
declared useroot && opts+=("-Duseroot=false")
# FUSE over io_uring (3.18 on): only when asked for, so what a build holds
# does not depend on which -dev packages happen to be installed.
if [ $uring -eq 1 ]; then
	if ! declared enable-io-uring; then
		log "$(basename "$srcdir") has no FUSE over io_uring (needs libfuse >= 3.18: --suite forky or sid)"
		exit 1
	fi
	if ! pkg-config --exists liburing numa; then
		log "apt-get install liburing-dev libnuma-dev (libfuse's io_uring code needs both)"
		apt-get -o DPkg::Lock::Timeout=300 -q install -y liburing-dev libnuma-dev >/dev/null
	fi
	opts+=("-Denable-io-uring=true")
elif declared enable-io-uring; then
	opts+=("-Denable-io-uring=false")
fi

log "meson setup ${opts[*]}"
bdir=$work/build-$libkind
rm -rf "$bdir"
meson setup "$bdir" "$srcdir" --prefix="$prefix" --buildtype=release \
	-Ddefault_library=$libkind "${opts[@]}" >"$work/meson-setup.log" ||
	{ tail -n 30 "$work/meson-setup.log" >&2; exit 1; }
meson compile -C "$bdir" >"$work/meson-compile.log" ||
	{ tail -n 30 "$work/meson-compile.log" >&2; exit 1; }
meson install -C "$bdir" --no-rebuild >"$work/meson-install.log" ||
	{ tail -n 30 "$work/meson-install.log" >&2; exit 1; }

pcdir=$(find_pc_dir)
if [ -z "$pcdir" ]; then
	log "meson install left no fuse3.pc under $prefix"
	exit 1
fi
# Let every consumer of the shared library find it at run time without
# LD_LIBRARY_PATH (the static one needs nothing at run time).
if [ $static -eq 0 ] && ! grep -q -- '-Wl,-rpath' "$pcdir/fuse3.pc"; then
	sed -i 's|^Libs: -L${libdir}|Libs: -L${libdir} -Wl,-rpath,${libdir}|' "$pcdir/fuse3.pc"
fi
if [ $uring -eq 1 ] && ! has_uring "$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir fuse3)"; then
	log "the built libfuse has no io_uring code (see $work/meson-setup.log: liburing with SQE128, numa)"
	exit 1
fi
# A static libfuse3.a with io_uring needs liburing and libnuma at link time;
# fuse3.pc asks for them with "Requires: liburing, numa", which links their
# shared libraries. Name their archives in Libs instead, so the binary needs
# neither library at run time, like libfuse itself.
if [ $static -eq 1 ] && [ $uring -eq 1 ] && ! grep -q 'liburing\.a' "$pcdir/fuse3.pc"; then
	extra=
	for dep in liburing numa; do
		extra+=" $(pkg-config --variable=libdir $dep)/lib${dep#lib}.a"
	done
	sed -i -e '/^Requires: *liburing, *numa *$/d' \
		-e "s|^Libs: \\(.*\\)\$|Libs: \\1$extra|" "$pcdir/fuse3.pc"
fi
if ! have_good_prefix; then
	log "installed libfuse is older than $min_version"
	exit 1
fi
report
