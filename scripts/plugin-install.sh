#!/usr/bin/env bash
# plugin-install.sh - install taglockfs-plugin as a host service (the legacy
# Docker plugin; Podman uses the same socket).
#
# Usage: scripts/plugin-install.sh [-b BUILDDIR] [-p PREFIX] [-d DESTDIR] [-n]
#   -b BUILDDIR  meson build directory, used as it is when configured
#                (default: the build scripts/lib/fastbuild.sh chooses:
#                build-fast with libfuse 3.17 linked in statically and kernel
#                passthrough where the kernel has it, else build)
#   -p PREFIX    install prefix (default: /usr/local)
#   -d DESTDIR   stage everything under DESTDIR instead of / (implies -n)
#   -n           do not enable or start the service
#
# Prints which build it installs and why. Refuses a taglockfs that loads
# libfuse from inside this checkout (a build against scripts/build-libfuse.sh's
# shared library): the installed daemon must not depend on the checkout.
# Installs PREFIX/bin/taglockfs and PREFIX/bin/taglockfs-plugin, the unit
# /etc/systemd/system/taglockfs-plugin.service (started before
# docker.service; KillMode=process so restarting the plugin leaves the
# volumes' taglockfs mounts running) and, when none exists, an example
# /etc/taglockfs/policy.yaml. Docker finds the plugin by its socket,
# /run/docker/plugins/taglockfs.sock; no /etc/docker/plugins spec is needed.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
cd "$(dirname "$0")/.."

build='' prefix=/usr/local destdir='' start=1
while getopts "b:p:d:nh" opt; do
	case $opt in
	b) build=$OPTARG ;;
	p) prefix=$OPTARG ;;
	d) destdir=$OPTARG; start=0 ;;
	n) start=0 ;;
	h) sed -n '2,24p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
	echo "plugin-install.sh: run as root (or stage with -d DESTDIR)" >&2
	exit 1
fi

# shellcheck source=lib/fastbuild.sh
source scripts/lib/fastbuild.sh
tlk_build_daemon_and_plugin "$build" plugin-install.sh --deps
build=$TLK_BUILD
daemon=$build/taglockfs
plugin=$build/src/plugin/taglockfs-plugin
# Fail closed: an installed daemon that loads libfuse from this checkout
# would break when the checkout moves, and would run code from a directory
# that is not a system one.
checkout=$(pwd -P)
# shellcheck disable=SC2016  # $ORIGIN is meant literally
for bin in "$daemon" "$plugin"; do
	runpath=$(readelf -d "$bin" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
	if ldd "$bin" | grep -o '/[^ ]*' | grep -q "^$checkout/" ||
		case "$runpath" in *"$checkout"* | *'$ORIGIN'*) true ;; *) false ;; esac; then
		echo "plugin-install.sh: $bin loads libraries from this checkout ($checkout${runpath:+, runpath $runpath}); not installing it." >&2
		echo "plugin-install.sh: use the default build (no -b), or a build against the system libfuse" >&2
		exit 1
	fi
done

install -D -m 0755 "$daemon" "$destdir$prefix/bin/taglockfs"
install -D -m 0755 "$plugin" "$destdir$prefix/bin/taglockfs-plugin"
install -d -m 0755 "$destdir/etc/taglockfs"
install -d -m 0700 "$destdir/var/lib/taglockfs-plugin"

policy=$destdir/etc/taglockfs/policy.yaml
if [ ! -e "$policy" ]; then
	cat >"$policy" <<'EOF'
# taglockfs policy (see README): every repository's tags are immutable,
# except `latest`. Edit freely; running volumes pick changes up at once.
version: 1
defaults:
  immutable_tags: ["*"]
  mutable_tags: ["latest"]
repositories:
  - name: "**"
    immutable: true
EOF
	echo "wrote example policy $policy"
fi

unit=$destdir/etc/systemd/system/taglockfs-plugin.service
install -d -m 0755 "$(dirname "$unit")"
cat >"$unit" <<EOF
[Unit]
Description=taglockfs volume plugin for Docker and Podman
Documentation=man:taglockfs(8)
After=local-fs.target
Before=docker.service

[Service]
Type=simple
ExecStart=$prefix/bin/taglockfs-plugin --taglockfs $prefix/bin/taglockfs
# The taglockfs processes serving volumes must outlive a plugin restart.
KillMode=process
# Each inode the kernel holds is one open fd in taglockfs (inherited).
LimitNOFILE=1048576
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target docker.service
EOF
echo "installed $prefix/bin/taglockfs-plugin and $unit${destdir:+ under $destdir}"

if [ "$start" = 1 ]; then
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload
		systemctl enable --now taglockfs-plugin.service
		echo "taglockfs-plugin is running: docker volume create -d taglockfs -o policy=/etc/taglockfs/policy.yaml NAME"
	else
		echo "systemd is not running here; start the plugin with: $prefix/bin/taglockfs-plugin &"
	fi
fi
