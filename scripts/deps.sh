#!/usr/bin/env bash
# deps.sh - install the Debian packages taglockfs needs to build, test and
# demo. Idempotent; quiet when everything is there. Usage: scripts/deps.sh
# [build|test|demo] (default: test, which is everything).
set -euo pipefail

what=${1:-test}
build_pkgs=(meson ninja-build pkg-config gcc libc6-dev dpkg-dev libfuse3-dev fuse3
	libyaml-dev libjansson-dev libssl-dev libcmocka-dev)
run_pkgs=(docker-registry skopeo nginx-light openssl curl python3 python3-pytest tar gzip rsync
	coreutils util-linux procps psmisc systemd)
engine_pkgs=(docker.io podman runc busybox-static valgrind clang libclang-rt-14-dev)

case "$what" in
build) pkgs=("${build_pkgs[@]}") ;;
demo) pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
test) pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}" "${engine_pkgs[@]}") ;;
*) echo "usage: $0 [build|test|demo]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
