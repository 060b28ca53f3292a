#!/usr/bin/env bash
# plugin-build.sh - assemble the managed Docker plugin directory of
# taglockfs (config.json + rootfs/) for `docker plugin create`.
#
# Usage: scripts/plugin-build.sh [-b BUILDDIR] [-o OUTDIR]
#   -b BUILDDIR  meson build directory holding taglockfs and
#                src/plugin/taglockfs-plugin, used as it is when configured
#                (default: the build scripts/lib/fastbuild.sh chooses:
#                build-fast with libfuse 3.17 linked in statically and
#                kernel passthrough where the kernel has it, else build;
#                compiled first when a binary is missing)
#   -o OUTDIR    where to write the plugin (default: BUILDDIR/managed-plugin;
#                replaced if it exists)
# Prints which build it packs and why.
# Then:
#   docker plugin create taglockfs:VERSION OUTDIR
#   docker plugin set taglockfs:VERSION policy.source=/etc/taglockfs
#   docker plugin enable taglockfs:VERSION
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
cd "$(dirname "$0")/.."

build=''
out=
while getopts "b:o:h" opt; do
	case $opt in
	b) build=$OPTARG ;;
	o) out=$OPTARG ;;
	h) sed -n '2,21p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done

# shellcheck source=lib/fastbuild.sh
source scripts/lib/fastbuild.sh
tlk_build_daemon_and_plugin "$build" plugin-build.sh
build=$TLK_BUILD
out=${out:-$build/managed-plugin}

daemon=$build/taglockfs
plugin=$build/src/plugin/taglockfs-plugin
fusermount=$(command -v fusermount3 || true)
[ -n "$fusermount" ] || { echo "plugin-build.sh: fusermount3 not found (apt-get install fuse3)" >&2; exit 1; }

rm -rf "$out"
rootfs=$out/rootfs
mkdir -p "$rootfs"/{usr/bin,etc/taglockfs,run/docker/plugins,var/lib/taglockfs-plugin,dev,proc,sys,tmp}
chmod 1777 "$rootfs/tmp"

# copy_with_libs BINARY DEST: the binary, and every shared library ldd
# names (the dynamic loader included), at the same absolute paths inside
# the rootfs.
copy_with_libs() {
	local bin=$1 dest=$2 lib
	install -m 0755 "$bin" "$rootfs$dest"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		[ -e "$rootfs$lib" ] && continue
		mkdir -p "$rootfs$(dirname "$lib")"
		cp -L "$lib" "$rootfs$lib"
	done
}
copy_with_libs "$daemon" /usr/bin/taglockfs
copy_with_libs "$plugin" /usr/bin/taglockfs-plugin
copy_with_libs "$fusermount" /usr/bin/fusermount3
printf 'root:x:0:0:root:/:/usr/bin/taglockfs-plugin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"

version=$("$daemon" --version | awk '{print $2; exit}')
cat >"$out/config.json" <<EOF
{
  "description": "taglockfs $version: tag-immutable storage volumes for container registries",
  "documentation": "https://github.com/taglockfs/taglockfs#volume-plugin",
  "entrypoint": ["/usr/bin/taglockfs-plugin", "--taglockfs", "/usr/bin/taglockfs",
                 "--state-dir", "/var/lib/taglockfs-plugin"],
  "workdir": "/",
  "interface": {
    "types": ["docker.volumedriver/1.0"],
    "socket": "taglockfs.sock"
  },
  "network": {"type": "none"},
  "propagatedMount": "/var/lib/taglockfs-plugin",
  "linux": {
    "capabilities": ["CAP_SYS_ADMIN"],
    "allowAllDevices": false,
    "devices": [{"path": "/dev/fuse"}]
  },
  "mounts": [
    {
      "name": "policy",
      "description": "host directory with the policy files that volumes name in -o policy=/etc/taglockfs/FILE",
      "source": "/etc/taglockfs",
      "destination": "/etc/taglockfs",
      "type": "bind",
      "options": ["rbind", "ro"],
      "settable": ["source"]
    }
  ],
  "args": {
    "name": "args",
    "description": "more taglockfs-plugin options, e.g. --default-policy /etc/taglockfs/policy.yaml",
    "settable": ["value"],
    "value": []
  }
}
EOF
echo "managed plugin in $out ($(du -sh "$rootfs" | cut -f1) rootfs)"
echo "next: docker plugin create taglockfs:$version $out"
