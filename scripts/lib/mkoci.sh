# shellcheck shell=bash
# mkoci.sh - generate small, deterministic OCI image layouts without network.
#
# Source it, then:
#   mkoci DIR SEED [LAYERS] [LAYER_KB]
#       Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...)
#       holding one linux/amd64 image: LAYERS (default 1) gzip'd tar layers of
#       LAYER_KB (default 16) KiB of pseudo-random bytes each, a config and an
#       application/vnd.oci.image.manifest.v1+json manifest.
#   mkoci_index DIR SEED [LAYERS] [LAYER_KB]
#       Same, but the top-level manifest is an OCI image index
#       (application/vnd.oci.image.index.v1+json) of two images, linux/amd64
#       and linux/arm64.
# Both print the digest of the top-level manifest (sha256:<hex>) on stdout.
# The content is a pure function of SEED (and the sizes): the same seed gives
# the same bytes and digests, so pushing it twice is a byte-identical re-push;
# different seeds give different digests. Needs only bash, coreutils, tar, gzip.
#
# It can also be run directly: bash mkoci.sh mkoci DIR SEED [LAYERS] [LAYER_KB]

# _mkoci_blob DIR FILE: move FILE into DIR/blobs/sha256/<hex>, print "hex size".
_mkoci_blob() {
	local dir=$1 file=$2 hex size
	hex=$(sha256sum <"$file") && hex=${hex%% *}
	size=$(stat -c %s "$file")
	mv -f "$file" "$dir/blobs/sha256/$hex"
	printf '%s %s\n' "$hex" "$size"
}

# _mkoci_bytes TAG KB OUT: KB KiB of pseudo-random bytes derived from TAG
# (xorshift64 in bash arithmetic, seeded from sha256(TAG); no forks per byte).
_mkoci_bytes() {
	local tag=$1 kb=$2 out=$3 n i x h hex=""
	h=$(printf '%s' "$tag" | sha256sum)
	x=$((16#${h:0:15} | 1))
	n=$((kb * 128))
	for ((i = 0; i < n; i++)); do
		((x ^= x << 13, x ^= (x >> 7) & 0x01FFFFFFFFFFFFFF, x ^= x << 17))
		printf -v h '%016x' "$x"
		hex+=$h
	done
	# shellcheck disable=SC2001  # sed is far faster than ${//} on 100+ KiB
	printf '%b' "$(sed 's/../\\x&/g' <<<"$hex")" >"$out"
}

# _mkoci_image DIR SEED ARCH LAYERS KB: write layers, config and manifest
# blobs of one image; print "manifest_hex manifest_size".
_mkoci_image() {
	local dir=$1 seed=$2 arch=$3 layers=$4 kb=$5
	local work i hex size diff ldescs="" diffids="" hist="" sep="" cfg man
	work=$(mktemp -d)
	for ((i = 1; i <= layers; i++)); do
		mkdir -p "$work/l$i/root/taglockfs-test"
		_mkoci_bytes "$seed/$arch/layer$i" "$kb" "$work/l$i/root/taglockfs-test/layer$i.bin"
		printf 'seed=%s arch=%s layer=%d\n' "$seed" "$arch" "$i" \
			>"$work/l$i/root/taglockfs-test/layer$i.txt"
		chmod 0755 "$work/l$i/root/taglockfs-test"
		chmod 0644 "$work/l$i/root/taglockfs-test/"*
		tar --sort=name --format=gnu --owner=0 --group=0 --numeric-owner \
			--mtime=@0 -C "$work/l$i/root" \
			-cf "$work/l$i.tar" taglockfs-test
		diff=$(sha256sum <"$work/l$i.tar") && diff=${diff%% *}
		gzip -n -9 -c "$work/l$i.tar" >"$work/l$i.tar.gz"
		read -r hex size < <(_mkoci_blob "$dir" "$work/l$i.tar.gz")
		ldescs+="$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}"
		diffids+="$sep\"sha256:$diff\""
		hist+="$sep{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"mkoci $seed layer $i\"}"
		sep=,
	done
	cfg="$work/config.json"
	printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Labels":{"org.taglockfs.test.seed":"%s"}},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
		"$arch" "$seed" "$diffids" "$hist" >"$cfg"
	read -r hex size < <(_mkoci_blob "$dir" "$cfg")
	man="$work/manifest.json"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$hex" "$size" "$ldescs" >"$man"
	_mkoci_blob "$dir" "$man"
	rm -rf "$work"
}

_mkoci_args() {
	local what=$1
	shift
	if [ $# -lt 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
		echo "usage: $what DIR SEED [LAYERS] [LAYER_KB]" >&2
		return 2
	fi
	case "${3:-1}${4:-16}" in *[!0-9]*)
		echo "$what: LAYERS and LAYER_KB must be numbers" >&2; return 2 ;;
	esac
}

# _mkoci_layout DIR MEDIATYPE HEX SIZE: write oci-layout and index.json.
_mkoci_layout() {
	local dir=$1 mt=$2 hex=$3 size=$4
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
		"$mt" "$hex" "$size" >"$dir/index.json"
	printf 'sha256:%s\n' "$hex"
}

mkoci() {
	_mkoci_args mkoci "$@" || return
	local dir=$1 seed=$2 layers=${3:-1} kb=${4:-16} hex size
	rm -rf "$dir" && mkdir -p "$dir/blobs/sha256" || return
	read -r hex size < <(_mkoci_image "$dir" "$seed" amd64 "$layers" "$kb") || return
	[ -n "$hex" ] || { echo "mkoci: failed to build image" >&2; return 1; }
	_mkoci_layout "$dir" application/vnd.oci.image.manifest.v1+json "$hex" "$size"
}

mkoci_index() {
	_mkoci_args mkoci_index "$@" || return
	local dir=$1 seed=$2 layers=${3:-1} kb=${4:-16} arch hex size descs="" sep="" idx
	rm -rf "$dir" && mkdir -p "$dir/blobs/sha256" || return
	for arch in amd64 arm64; do
		read -r hex size < <(_mkoci_image "$dir" "$seed" "$arch" "$layers" "$kb") || return
		[ -n "$hex" ] || { echo "mkoci_index: failed to build image" >&2; return 1; }
		descs+="$sep{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$hex\",\"size\":$size,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"}}"
		sep=,
	done
	idx=$(mktemp -p "$dir")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
		"$descs" >"$idx"
	read -r hex size < <(_mkoci_blob "$dir" "$idx")
	_mkoci_layout "$dir" application/vnd.oci.image.index.v1+json "$hex" "$size"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	mkoci | mkoci_index) "$@"; exit ;;
	*) echo "usage: bash $0 mkoci|mkoci_index DIR SEED [LAYERS] [LAYER_KB]" >&2; exit 2 ;;
	esac
fi
