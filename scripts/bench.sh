#!/usr/bin/env bash
# bench.sh - measure taglockfs against the native filesystem, side by side.
#
# Usage: scripts/bench.sh [--reps N] [--quick] [--only LIST] [--native-only]
#                         [--opts OPTS] [--dir DIR] [--storm-files N]
#                         [--nofile N] [--keep]
#                         [--repos N] [--tags M] [--gets N] [--baseline]
#                         [--builds BIN[,BIN...]]
#   --reps N       repetitions of every measurement (default 3); the order of
#                  native and taglockfs alternates between repetitions
#   --quick        a small smoke run: 64 MiB files, 2k-file storms, a 64 MiB
#                  image, a 20 x 10 registry tree and 100 manifest GETs,
#                  1 repetition unless --reps is given
#   --only LIST    comma-separated subset of:
#                  write,read,storm,locked,e2e,gate,registry,res
#   --native-only  measure the native side only (no daemon needed)
#   --opts OPTS    extra `-o` options for the daemon (e.g. max_threads=4)
#   --dir DIR      scratch directory (default /work/bench-tmp); native files
#                  and the daemon's backing directory both live under it, so
#                  both sides use the same disk and filesystem
#   --storm-files N  files per storm (default 20000, --quick 2000)
#   --nofile N     try to raise the daemon's RLIMIT_NOFILE hard limit to N
#                  (default 1048576; needs CAP_SYS_RESOURCE, else the
#                  caller's limit stays; the storm makes ~3 inodes per file)
#   --keep         keep the scratch data (the generated image is always kept
#                  in DIR/cache for the next run)
#   --repos N      repositories in the registry tree (default 100, --quick 20)
#   --tags M       tags per repository (default 40, --quick 10)
#   --gets N       manifest GETs by tag per run (default 500, --quick 100)
#   --baseline     also run the registry work (needs registry in --only) on
#                  libfuse's own example filesystems mounted over the native
#                  registry tree, as a yardstick of what FUSE costs here:
#                  passthrough_hp with its defaults (entries, attributes and
#                  negative entries cached 86400 s, keep_cache, readdir
#                  cached, kernel passthrough), passthrough_hp --nocache
#                  (timeouts 0, no keep_cache, no FLUSH for readers, kernel
#                  passthrough) and passthrough_ll with its defaults
#                  (cache=auto: 1 s timeouts, no passthrough). Built once by
#                  scripts/lib/fuse-example.sh from the libfuse source
#                  scripts/build-libfuse.sh fetches (TLK_LIBFUSE_WORK=DIR
#                  names another unpacked source) into .libfuse/examples/.
#                  They take part in the same repetitions, in the same
#                  alternating order (reversed every other repetition);
#                  each is mounted afresh for its turn and unmounted after.
#   --builds LIST  run everything once per daemon binary in LIST (comma-
#                  separated, e.g. build/taglockfs,build-fast/taglockfs), each
#                  run against native figures of its own, one table per build
#                  under a "=== build: BIN" line (BENCH lines unchanged)
# Environment: TAGLOCKFS=path of the daemon (default build/taglockfs).
#
# Measures: 1 GiB sequential write with fsync; 1 GiB cold read (caches
# dropped) and warm read; a metadata storm shaped like a registry's tags
# (N files repositories/r<i%50>/_manifests/tags/t<i>/current/link of 71
# bytes: create, stat, read, walk, delete) and the same storm inside a
# repository the policy makes immutable (create, read, identical rewrite,
# walk); skopeo push and pull of a ~1 GiB multi-layer image to a real
# docker-registry whose rootdirectory is the native directory or the mount;
# manifest PUTs by tag through nginx to a registry on the mount, with and
# without the gate (both sides on taglockfs: "native" is nginx proxying
# straight to the registry, "taglockfs" asks the gate first; the ratio is
# the gate's cost); the daemon's RSS and open fds after a storm and after
# dropping the dentry/inode caches; registry-shaped work on a generated
# tree of N repositories x M tags sharing 4 manifests, half of them in
# locked/ (immutable by the policy), half in open/ (mutable), written
# directly into a native directory and a second daemon's backing directory
# before the repetitions (generation is not measured): the registry's own
# `docker-registry garbage-collect --dry-run` (repos/s), GET
# /v2/<repo>/tags/list for every repository (lists/s) and random GET
# /v2/<repo>/manifests/<tag> with the Accept header of an OCI/Docker client
# (GET/s), each cold (caches dropped, a freshly started registry for the
# GETs) and then warm (the same work again at once). Every figure is a
# throughput (bigger is better), so ratio = taglockfs/native is the
# fraction of native speed.
#
# Output: an aligned table, and one machine-readable line per figure:
#   BENCH name=... native=... taglockfs=... ratio=... unit=...
# and with --baseline, for every registry figure, one more line per example
# side (ratio = side/native; the table gets a column and a ratio for each):
#   BENCH name=... side=passthrough_hp value=... native=... ratio=... unit=...
# It is a benchmark, not a test: it needs root (drop_caches, mount) and
# prints numbers; it does not judge them.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
reps=
quick=0
only=write,read,storm,locked,e2e,gate,registry,res
native_only=0
extra_opts=
bt=/work/bench-tmp
keep=0
nofile=1048576
storm_files=
reg_repos=
reg_tags=
reg_gets=
baseline=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
builds= pass=()
while [ $# -gt 0 ]; do
	case "$1" in
	--builds) ;;
	--reps | --only | --opts | --dir | --nofile | --storm-files | --repos | --tags | --gets)
		pass+=("$1" "${2:-}") ;;
	*) pass+=("$1") ;;
	esac
	case "$1" in
	--reps) reps=$2; shift ;;
	--quick) quick=1 ;;
	--only) only=$2; shift ;;
	--native-only) native_only=1 ;;
	--opts) extra_opts=$2; shift ;;
	--dir) bt=$2; shift ;;
	--nofile) nofile=$2; shift ;;
	--storm-files) storm_files=$2; shift ;;
	--keep) keep=1 ;;
	--repos) reg_repos=$2; shift ;;
	--tags) reg_tags=$2; shift ;;
	--gets) reg_gets=$2; shift ;;
	--baseline) baseline=1 ;;
	--builds) builds=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

# One complete run per build, each against its own native figures.
if [ -n "$builds" ]; then
	IFS=, read -ra build_bins <<<"$builds"
	for bin in "${build_bins[@]}"; do
		[ -x "$bin" ] || { echo "bench.sh: --builds: $bin is not an executable" >&2; exit 2; }
	done
	for bin in "${build_bins[@]}"; do
		echo "=== build: $bin"
		TAGLOCKFS=$bin "$0" "${pass[@]}" || exit $?
	done
	exit 0
fi

if [ $quick -eq 1 ]; then
	reps=${reps:-1}
	seq_mib=64
	storm_n=2000
	img_layers=4
	layer_mib=16
	reg_repos=${reg_repos:-20}
	reg_tags=${reg_tags:-10}
	reg_gets=${reg_gets:-100}
else
	reps=${reps:-3}
	seq_mib=1024
	storm_n=20000
	img_layers=8
	layer_mib=128
	reg_repos=${reg_repos:-100}
	reg_tags=${reg_tags:-40}
	reg_gets=${reg_gets:-500}
fi
storm_n=${storm_files:-$storm_n}
case "$storm_n" in '' | *[!0-9]* | 0) echo "bench.sh: --storm-files wants a positive number" >&2; exit 2 ;; esac
case "$reps" in '' | *[!0-9]* | 0) echo "bench.sh: --reps wants a positive number" >&2; exit 2 ;; esac
for n in "$reg_repos" "$reg_tags" "$reg_gets"; do
	case "$n" in '' | *[!0-9]* | 0) echo "bench.sh: --repos, --tags and --gets want positive numbers" >&2; exit 2 ;; esac
done
want() { [[ ",$only," == *",$1,"* ]]; }
log() { echo "bench.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (drop_caches, mounting)"
if [ $baseline -eq 1 ] && ! want registry; then
	die "--baseline measures the registry work only; --only must include registry"
fi
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || die "needs python3"
daemon=${TAGLOCKFS:-$repo/build/taglockfs}
if [ $native_only -eq 0 ]; then
	[ -x "$daemon" ] || die "no daemon at $daemon (build it, or set TAGLOCKFS=...)"
fi
if want e2e; then
	for t in docker-registry skopeo curl gzip tar sha256sum; do
		command -v $t >/dev/null || die "e2e needs $t (scripts/deps.sh demo)"
	done
fi
if want registry; then
	for t in docker-registry curl; do
		command -v $t >/dev/null || die "registry needs $t (scripts/deps.sh demo)"
	done
fi

mkdir -p "$bt"
bt=$(cd "$bt" && pwd)
native=$bt/native
backing=$bt/backing
mnt=$bt/mnt
cache=$bt/cache
scratch=$bt/scratch
# The registry tree lives apart from the rest: its protected tags cannot be
# deleted through a mount, and the e2e phase empties DIR/native/docker.
reg_native=$bt/reg-native
reg_backing=$bt/reg-backing
reg_mnt=$bt/reg-mnt
# --baseline: libfuse's example filesystems, each mounted over reg-native.
ex_sides=
[ $baseline -eq 1 ] && ex_sides="passthrough_hp passthrough_hp_nocache passthrough_ll"
ex_mnt() { echo "$bt/reg-$1"; }
for m in "$mnt" "$reg_mnt" $(for s in $ex_sides; do ex_mnt "$s"; done); do
	! mountpoint -q "$m" || die "$m is still mounted (an earlier run?); unmount it first"
done
rm -rf "$native" "$backing" "$scratch" "$reg_native" "$reg_backing"
mkdir -p "$native" "$backing" "$mnt" "$cache" "$scratch"

# ---- cleanup on every exit path -----------------------------------------------

# unmount_stop MP PID: unmount MP (lazily if it is busy) and end its daemon
# PID (either may be empty); never fails (cleanup and set -e callers).
unmount_stop() {
	local mp=$1 pid=$2
	if [ -n "$mp" ] && mountpoint -q "$mp"; then
		fusermount3 -u "$mp" 2>/dev/null || umount "$mp" 2>/dev/null ||
			umount -l "$mp" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	return 0
}

daemon_pid=
reg_daemon_pid=
reg_pid=
reporting=0
fuse_lib=
daemon_nofile=
machine=
img_mb=0
cleanup() {
	local rc=$?
	set +e
	[ $reporting -eq 1 ] && report
	if [ -n "$reg_pid" ]; then
		kill "$reg_pid" 2>/dev/null
		wait "$reg_pid" 2>/dev/null
	fi
	unmount_stop "$mnt" "$daemon_pid"
	declare -F reg_unmount >/dev/null && reg_unmount
	declare -F ex_unmount >/dev/null && ex_unmount
	if [ $keep -eq 0 ]; then
		rm -rf "$native" "$backing" "$scratch"
		rmdir "$mnt" 2>/dev/null
		# only once the mounts are gone: never delete through them
		local m busy=0
		for m in "$reg_mnt" $(for s in $ex_sides; do ex_mnt "$s"; done); do
			if mountpoint -q "$m"; then busy=1; else rmdir "$m" 2>/dev/null; fi
		done
		[ $busy -eq 1 ] || rm -rf "$reg_native" "$reg_backing"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- small helpers ------------------------------------------------------------

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
drop_caches() { sync; echo "${1:-3}" >/proc/sys/vm/drop_caches; }
# rate AMOUNT SECONDS: AMOUNT per second, 3 significant digits.
rate() {
	awk -v n="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 1e-9; r = n / s
		printf(r >= 100 ? "%.0f" : "%.3g", r) }'
}

# Results: one line "name side value" per measurement in $results.
results=$scratch/results
units=$scratch/units
: >"$results"
: >"$units"
record() { # record NAME SIDE VALUE UNIT
	echo "$1 $2 $3" >>"$results"
	grep -q "^$1 " "$units" || echo "$1 $4" >>"$units"
}

# ---- policy and daemon -------------------------------------------------------------

policy=$scratch/policy.yaml
cat >"$policy" <<'EOF'
version: 1
repositories:
  # never touched by the benchmark's plain paths: the daemon still has to
  # classify every node and consult the policy, but protects nothing
  - name: "production/**"
    immutable: true
  # the "locked" storm runs in here: every tag it creates is protected
  - name: "locked/**"
    immutable: true
EOF

# wait_mounted PID MP DLOG: until MP is a mount point (10 s at most);
# 1, after printing the end of DLOG, if PID exited or time ran out.
wait_mounted() {
	local pid=$1 mp=$2 dlog=$3 i
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$mp" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$dlog" >&2
	return 1
}

# spawn_taglockfs OPTS BACKING MNT LOG: start a daemon, wait for its mount;
# its pid is left in $spawned_pid (also when it failed, for cleanup).
spawn_taglockfs() {
	local opts=$1 back=$2 mp=$3 dlog=$4
	[ -n "$extra_opts" ] && opts+=",$extra_opts"
	# Raise the hard fd limit for the daemon only (it raises its soft limit).
	(ulimit -Hn "$nofile" 2>/dev/null || true
	 exec "$daemon" -f -o "$opts" "$back" "$mp") >"$dlog" 2>&1 &
	spawned_pid=$!
	wait_mounted "$spawned_pid" "$mp" "$dlog" && return 0
	log "taglockfs did not mount ($daemon -f -o $opts $back $mp)"
	return 1
}

mount_daemon() {
	local rc=0
	spawn_taglockfs "policy=$policy,gate=$scratch/gate.sock" "$backing" "$mnt" \
		"$scratch/daemon.log" || rc=$?
	daemon_pid=$spawned_pid
	[ $rc -eq 0 ] || exit 1
}

proc_status() { # proc_status FIELD: value in kB
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$daemon_pid/status"
}
fd_count() { find "/proc/$daemon_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# The sides to run in repetition $1: alternate which goes first (with
# --baseline, the example filesystems too: the whole list is reversed every
# other repetition).
sides() {
	local -a list=(native) out=()
	local i
	[ $native_only -eq 1 ] || list+=(taglockfs)
	# shellcheck disable=SC2206
	list+=($ex_sides)
	if [ $(($1 % 2)) -eq 1 ]; then echo "${list[*]}"; return; fi
	for ((i = ${#list[@]} - 1; i >= 0; i--)); do out+=("${list[i]}"); done
	echo "${out[*]}"
}
is_example() { [[ " $ex_sides " == *" $1 "* ]]; }
dir_of() { if [ "$1" = native ]; then echo "$native"; else echo "$mnt"; fi; }

# ---- 1. sequential write with fsync, cold and warm read -----------------------------

bench_seq() { # bench_seq SIDE
	local side=$1 d f t0 t1 bytes
	d=$(dir_of "$side")
	f=$d/seq.bin
	bytes=$((seq_mib * 1048576))
	rm -f "$f"
	drop_caches
	if want write; then
		t0=$(now)
		dd if=/dev/zero of="$f" bs=1M count="$seq_mib" conv=fsync status=none
		t1=$(now)
		record seq_write "$side" "$(rate $((bytes / 1000000)) "$(elapsed "$t0" "$t1")")" MB/s
	else
		dd if=/dev/zero of="$f" bs=1M count="$seq_mib" conv=fsync status=none
	fi
	if want read; then
		drop_caches
		t0=$(now)
		dd if="$f" of=/dev/null bs=1M status=none
		t1=$(now)
		record read_cold "$side" "$(rate $((bytes / 1000000)) "$(elapsed "$t0" "$t1")")" MB/s
		t0=$(now)
		dd if="$f" of=/dev/null bs=1M status=none
		t1=$(now)
		record read_warm "$side" "$(rate $((bytes / 1000000)) "$(elapsed "$t0" "$t1")")" MB/s
	fi
	rm -f "$f"
}

# ---- 2. metadata storms --------------------------------------------------------------

storm_py=$scratch/storm.py
cat >"$storm_py" <<'EOF'
# storm.py PHASE ROOT N: one phase of the tag storm; prints its seconds.
# Files: ROOT/r<i%50>/_manifests/tags/t<i>/current/link, 71 bytes each.
import hashlib, os, sys, time

phase, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
paths = ["%s/r%d/_manifests/tags/t%d/current/link" % (root, i % 50, i)
         for i in range(n)]
def content(i):
    return b"sha256:" + hashlib.sha256(b"%d" % i).hexdigest().encode()
datas = [content(i) for i in range(n)]
errors = 0
t0 = time.perf_counter()
if phase == "create":
    for p, data in zip(paths, datas):
        try:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            os.write(fd, data)
            os.close(fd)
        except OSError:
            errors += 1
elif phase == "stat":
    for p in paths:
        try:
            os.stat(p)
        except OSError:
            errors += 1
elif phase == "read":
    for p, data in zip(paths, datas):
        try:
            fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
            if os.read(fd, 128) != data:
                errors += 1
            os.close(fd)
        except OSError:
            errors += 1
elif phase == "rewrite":
    # distribution 2.8's tag write, minus the fsyncs: open without O_TRUNC,
    # ftruncate(0), one write of the same 71 bytes, close
    for p, data in zip(paths, datas):
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.ftruncate(fd, 0)
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError:
            errors += 1
else:
    sys.exit("unknown phase " + phase)
t1 = time.perf_counter()
print("%.6f %d" % (t1 - t0, errors))
EOF

storm_errors=$scratch/storm-errors
: >"$storm_errors"
storm_phase() { # storm_phase NAME SIDE PHASE ROOT
	local name=$1 side=$2 phase=$3 root=$4 out secs errs
	out=$("$py" "$storm_py" "$phase" "$root" "$storm_n")
	secs=${out% *}
	errs=${out#* }
	if [ "$errs" = 0 ]; then
		record "$name.$phase" "$side" "$(rate "$storm_n" "$secs")" files/s
	else
		echo "$name.$phase $side: $errs of $storm_n files failed" >>"$storm_errors"
		record "$name.$phase" "$side" fail files/s
	fi
}
timed_cmd() { # timed_cmd NAME SIDE CMD...: record files/s of a shell command
	local name=$1 side=$2 t0 t1 rc=0
	shift 2
	t0=$(now)
	"$@" >/dev/null 2>"$scratch/cmd.err" || rc=$?
	t1=$(now)
	if [ $rc -eq 0 ]; then
		record "$name" "$side" "$(rate "$storm_n" "$(elapsed "$t0" "$t1")")" files/s
	else
		echo "$name $side: $1 exited $rc: $(head -n1 "$scratch/cmd.err")" >>"$storm_errors"
		record "$name" "$side" fail files/s
	fi
}

# The plain storm's trees: repositories/r0 ... r49 (not repositories/locked).
storm_dirs() { local i; for ((i = 0; i < 50; i++)); do echo "$1/r$i"; done; }

bench_storm() { # bench_storm SIDE REP: the plain storm, in mutable repositories
	local side=$1 root
	root=$(dir_of "$side")/repositories
	drop_caches
	storm_phase storm "$side" create "$root"
	storm_phase storm "$side" stat "$root"
	storm_phase storm "$side" read "$root"
	# shellcheck disable=SC2046
	timed_cmd storm.walk "$side" find $(storm_dirs "$root")
	# shellcheck disable=SC2046
	timed_cmd storm.delete "$side" rm -rf $(storm_dirs "$root")
}

bench_locked() { # bench_locked SIDE REP: the storm in an immutable repository
	local side=$1 rep=$2 root
	# A fresh name per repetition: protected tags cannot be deleted through
	# the mount, so they are removed from the backing directory at the end.
	root=$(dir_of "$side")/repositories/locked/k$rep
	drop_caches
	storm_phase locked "$side" create "$root"
	storm_phase locked "$side" read "$root"
	storm_phase locked "$side" rewrite "$root"
	timed_cmd locked.walk "$side" find "$root"
	if [ "$side" = native ]; then rm -rf "$root"; fi
}

# ---- 3. resources of the daemon after a storm ------------------------------------------

bench_resources() {
	local root=$mnt/repositories
	drop_caches
	record rss_start taglockfs "$(($(proc_status VmRSS) / 1024))" MiB
	record fds_start taglockfs "$(fd_count)" fds
	# Failures (a daemon out of fds) are reported; the figures still count.
	"$py" "$storm_py" create "$root" "$storm_n" >/dev/null ||
		echo "resources: the storm's create failed" >>"$storm_errors"
	"$py" "$storm_py" stat "$root" "$storm_n" >/dev/null || true
	# shellcheck disable=SC2046
	find $(storm_dirs "$root") >/dev/null 2>&1 ||
		echo "resources: find failed after the storm" >>"$storm_errors"
	record fds_after_storm taglockfs "$(fd_count)" fds
	record rss_after_storm taglockfs "$(($(proc_status VmRSS) / 1024))" MiB
	drop_caches 2
	sleep 2
	record fds_after_drop taglockfs "$(fd_count)" fds
	record rss_after_drop taglockfs "$(($(proc_status VmRSS) / 1024))" MiB
	# shellcheck disable=SC2046
	rm -rf $(storm_dirs "$root") 2>/dev/null ||
		echo "resources: rm -rf failed after the storm" >>"$storm_errors"
	drop_caches 2
	sleep 1
	record fds_after_delete taglockfs "$(fd_count)" fds
	record rss_peak taglockfs "$(($(proc_status VmHWM) / 1024))" MiB
}

# ---- 4. end to end: skopeo push and pull through docker-registry ------------------------

img=$cache/img-${img_layers}x${layer_mib}M
gen_image() { # an OCI layout: IMG_LAYERS gzip'd tar layers of random bytes
	[ -f "$img/.complete" ] && return 0
	log "generating a ${img_layers}x${layer_mib} MiB image in $img (once)"
	rm -rf "$img"
	mkdir -p "$img/blobs/sha256"
	local i work hex diff size layers="" diffs="" sep="" cfg man
	work=$(mktemp -d "$bt/gen.XXXXXX")
	for ((i = 1; i <= img_layers; i++)); do
		mkdir -p "$work/l$i/data"
		head -c $((layer_mib * 1048576)) /dev/urandom >"$work/l$i/data/blob$i"
		tar -C "$work/l$i" --sort=name --owner=0 --group=0 --numeric-owner \
			-cf "$work/l$i.tar" data
		diff=$(sha256sum <"$work/l$i.tar") && diff=${diff%% *}
		gzip -1 -n -c "$work/l$i.tar" >"$work/l$i.tgz"
		hex=$(sha256sum <"$work/l$i.tgz") && hex=${hex%% *}
		size=$(stat -c %s "$work/l$i.tgz")
		mv "$work/l$i.tgz" "$img/blobs/sha256/$hex"
		rm -rf "$work/l$i" "$work/l$i.tar"
		layers+="$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$hex\",\"size\":$size}"
		diffs+="$sep\"sha256:$diff\""
		sep=,
	done
	cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffs]}}"
	printf '%s' "$cfg" >"$work/cfg"
	hex=$(sha256sum <"$work/cfg") && hex=${hex%% *}
	size=$(stat -c %s "$work/cfg")
	mv "$work/cfg" "$img/blobs/sha256/$hex"
	man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$hex\",\"size\":$size},\"layers\":[$layers]}"
	printf '%s' "$man" >"$work/man"
	hex=$(sha256sum <"$work/man") && hex=${hex%% *}
	size=$(stat -c %s "$work/man")
	mv "$work/man" "$img/blobs/sha256/$hex"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
		"$hex" "$size" >"$img/index.json"
	rmdir "$work"
	touch "$img/.complete"
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		ss -Hltn "sport = :$p" | grep -q . || { echo $p; return; }
	done
}

registry_conf() { # registry_conf ROOTDIR PORT: docker-registry's configuration
	cat <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$2
EOF
}

start_registry() { # start_registry ROOTDIR PORT
	local conf=$scratch/registry.yml i
	registry_conf "$1" "$2" >"$conf"
	docker-registry serve "$conf" >"$scratch/registry.log" 2>&1 &
	reg_pid=$!
	for ((i = 0; i < 100; i++)); do
		curl -fs -o /dev/null "http://127.0.0.1:$2/v2/" && return 0
		kill -0 "$reg_pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$scratch/registry.log" >&2
	die "docker-registry did not start on $1"
}
stop_registry() {
	[ -n "$reg_pid" ] || return 0
	kill "$reg_pid" 2>/dev/null || true
	wait "$reg_pid" 2>/dev/null || true
	reg_pid=
}

bench_e2e() { # bench_e2e SIDE REP
	local side=$1 rep=$2 root port t0 t1 ref pull
	root=$(dir_of "$side")
	port=$(free_port)
	rm -rf "$root/docker"
	start_registry "$root" "$port"
	ref=docker://127.0.0.1:$port/bench/img:r$rep
	pull=$scratch/pull
	rm -rf "$pull"
	drop_caches
	t0=$(now)
	skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$img:bench" "$ref" >/dev/null
	t1=$(now)
	record e2e_push "$side" "$(rate "$img_mb" "$(elapsed "$t0" "$t1")")" MB/s
	drop_caches
	t0=$(now)
	skopeo --insecure-policy copy -q --src-tls-verify=false "$ref" "dir:$pull" >/dev/null
	t1=$(now)
	record e2e_pull "$side" "$(rate "$img_mb" "$(elapsed "$t0" "$t1")")" MB/s
	stop_registry
	rm -rf "$pull" "$root/docker"
}

# ---- 5. manifest PUTs through nginx, with and without the gate -----------------------------

# shellcheck source=lib/nginx.sh
source "$repo/scripts/lib/nginx.sh"
NGINX_SRC=$repo
gate_puts=${TLK_BENCH_GATE_PUTS:-300}

bench_gate() { # bench_gate SIDE REP: identical re-pushes of a protected tag's manifest
	local side=$1 repo=locked/gate-$1-$2 port front work gate='' rate_
	port=$(free_port)
	front=127.0.0.1:$(free_port)
	work=$scratch/nginx-$side
	rm -rf "$work"
	mkdir -p "$work"
	start_registry "$mnt" "$port"
	[ "$side" = taglockfs ] && gate=$scratch/gate.sock
	nginx_conf "$work" "$front" "127.0.0.1:$port" "$gate" >"$work/nginx.conf"
	nginx_start "$work" "$front" || die "nginx did not start ($work/error.log)"
	skopeo --insecure-policy copy -q --dest-tls-verify=false \
		"oci:$gate_img" "docker://127.0.0.1:$port/$repo:v1" >/dev/null
	# (the protected tag stays: the daemon refuses to remove it)
	rate_=$(python3 - "$front" "$gate_puts" "$repo" <<'PY'
import http.client, sys, time
host, n, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
path = '/v2/%s/manifests/v1' % repo
accept = 'application/vnd.oci.image.manifest.v1+json'
c = http.client.HTTPConnection(host, timeout=30)
c.request('GET', path, headers={'Accept': accept})
r = c.getresponse()
body, ctype = r.read(), r.getheader('Content-Type')
assert r.status == 200, r.status
t0 = time.monotonic()
for _ in range(n):
    c.request('PUT', path, body=body, headers={'Content-Type': ctype})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status
print('%.1f' % (n / (time.monotonic() - t0)))
PY
)
	record put_via_gate "$side" "$rate_" PUT/s
	nginx_stop
	stop_registry
}

gen_gate_image() { # a one-layer OCI image of 16 KiB, for bench_gate
	gate_img=$scratch/gate-img
	[ -d "$gate_img" ] && return 0
	# shellcheck source=lib/mkoci.sh
	source "$repo/scripts/lib/mkoci.sh"
	mkoci "$gate_img" bench-gate-image 1 16 >/dev/null
}

# ---- 6. registry-shaped work on a generated tree ------------------------------------------

reg_expect=$scratch/reg-expect
reg_unmount() { # the registry tree's daemon (cleanup calls it too)
	unmount_stop "$reg_mnt" "$reg_daemon_pid"
	reg_daemon_pid=
	return 0
}

# Once per run, outside the timings: the same tree into reg-native and
# straight into the backing directory (not through the mount), then a
# second daemon over the backing directory with the bench's policy.
setup_regtree() {
	local t0
	log "generating a registry tree of $reg_repos repositories x $reg_tags tags"
	t0=$(now)
	mkdir -p "$reg_native" "$reg_backing" "$reg_mnt"
	"$py" "$repo/scripts/lib/mkregtree.py" --repos "$reg_repos" --tags "$reg_tags" \
		"$reg_native" "$reg_backing" >"$reg_expect" || die "mkregtree.py failed"
	log "generated in $(elapsed "$t0" "$(now)") s ($(wc -l <"$reg_expect") tags)"
	[ $native_only -eq 1 ] && return 0
	local rc=0
	spawn_taglockfs "policy=$policy" "$reg_backing" "$reg_mnt" \
		"$scratch/reg-daemon.log" || rc=$?
	reg_daemon_pid=$spawned_pid
	[ $rc -eq 0 ] || exit 1
}
reg_dir_of() {
	if [ "$1" = native ]; then echo "$reg_native"
	elif is_example "$1"; then ex_mnt "$1"
	else echo "$reg_mnt"; fi
}

# --baseline: libfuse's examples over the native tree (only reads reach
# it: garbage-collect --dry-run, tag lists and manifest GETs write nothing).
declare -A ex_pid=()
ex_cmd() { # ex_cmd SIDE: the example's command line, with its options
	case "$1" in
	passthrough_hp) echo "$TLK_EXAMPLE_DIR/passthrough_hp --foreground $reg_native $(ex_mnt "$1")" ;;
	passthrough_hp_nocache) echo "$TLK_EXAMPLE_DIR/passthrough_hp --foreground --nocache $reg_native $(ex_mnt "$1")" ;;
	passthrough_ll) echo "$TLK_EXAMPLE_DIR/passthrough_ll -f -o source=$reg_native $(ex_mnt "$1")" ;;
	esac
}
ex_mount() { # ex_mount SIDE
	local side=$1 mp dlog cmd
	mp=$(ex_mnt "$side")
	dlog=$scratch/$side.log
	mkdir -p "$mp"
	cmd=$(ex_cmd "$side")
	# The same descriptor limit as the daemon (both examples hold one per
	# inode the kernel knows; passthrough_ll does not raise its soft limit).
	# shellcheck disable=SC2086
	(ulimit -Hn "$nofile" 2>/dev/null || true
	 ulimit -Sn "$(ulimit -Hn)"
	 exec $cmd) >"$dlog" 2>&1 &
	ex_pid[$side]=$!
	wait_mounted "${ex_pid[$side]}" "$mp" "$dlog" ||
		die "$side did not mount ($cmd)"
}
ex_unmount() { # ex_unmount [SIDE]: that example, or all of them
	local side mp
	for side in ${1:-$ex_sides}; do
		mp=$(ex_mnt "$side")
		# (also called between repetitions, under set -e: its daemon's
		# exit status, whatever it is, must not end the run)
		unmount_stop "$mp" "${ex_pid[$side]:-}"
		ex_pid[$side]=
	done
	return 0
}
setup_examples() {
	# shellcheck source=lib/fuse-example.sh
	source "$repo/scripts/lib/fuse-example.sh"
	tlk_fuse_example_build "$repo" || die "could not build libfuse's examples (scripts/lib/fuse-example.sh)"
	log "libfuse $TLK_EXAMPLE_VERSION examples in $TLK_EXAMPLE_DIR: $ex_sides"
}

reg_gc() { # reg_gc NAME SIDE CONF: one garbage-collect --dry-run, in repos/s
	local t0 t1 rc=0
	t0=$(now)
	docker-registry garbage-collect --dry-run "$3" >/dev/null 2>"$scratch/gc.err" || rc=$?
	t1=$(now)
	if [ $rc -eq 0 ]; then
		record "$1" "$2" "$(rate "$reg_repos" "$(elapsed "$t0" "$t1")")" repos/s
	else
		echo "$1 $2: garbage-collect exited $rc: $(tail -n1 "$scratch/gc.err")" >>"$storm_errors"
		record "$1" "$2" fail repos/s
	fi
}

reg_load() { # reg_load NAME SIDE UNIT regload.py-ARGS...
	local name=$1 side=$2 unit=$3 out secs n errs
	shift 3
	out=$("$py" "$repo/scripts/lib/regload.py" "$@" 2>"$scratch/regload.err") ||
		out="1 0 1"
	read -r secs n errs <<<"$out"
	if [ "$errs" = 0 ]; then
		record "$name" "$side" "$(rate "$n" "$secs")" "$unit"
	else
		echo "$name $side: $errs failed requests: $(head -n1 "$scratch/regload.err")" >>"$storm_errors"
		record "$name" "$side" fail "$unit"
	fi
}

bench_registry() { # bench_registry SIDE REP
	local side=$1 rep=$2 root conf port host
	root=$(reg_dir_of "$side")
	conf=$scratch/registry-gc.yml
	registry_conf "$root" "$(free_port)" >"$conf"
	drop_caches
	reg_gc reg.gc.cold "$side" "$conf"
	reg_gc reg.gc.warm "$side" "$conf"
	port=$(free_port)
	host=127.0.0.1:$port
	drop_caches
	start_registry "$root" "$port"
	# the same random sequence on both sides of a repetition
	reg_load reg.get.cold "$side" GET/s get "$host" "$reg_expect" "$reg_gets" "$rep"
	reg_load reg.get.warm "$side" GET/s get "$host" "$reg_expect" "$reg_gets" "$rep"
	drop_caches
	reg_load reg.tags.cold "$side" lists/s tags "$host" "$reg_expect"
	reg_load reg.tags.warm "$side" lists/s tags "$host" "$reg_expect"
	stop_registry
}

# ---- run ---------------------------------------------------------------------------------

# run_phase NAME FUNCTION ARGS...: a failing phase is reported, not fatal; a
# registry it started is stopped.
run_phase() {
	local name=$1 rc=0
	shift
	set +e
	(
		set -e
		trap stop_registry EXIT
		"$@"
	)
	rc=$?
	set -e
	[ $rc -eq 0 ] || echo "$name: phase failed (exit $rc); its figures are missing" >>"$storm_errors"
	if [ $native_only -eq 0 ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
		echo "$name: the daemon died; see $scratch/daemon.log" >>"$storm_errors"
		exit 1
	fi
	if [ -n "$reg_daemon_pid" ] && ! kill -0 "$reg_daemon_pid" 2>/dev/null; then
		echo "$name: the registry tree's daemon died; see $scratch/reg-daemon.log" >>"$storm_errors"
		exit 1
	fi
	local s
	for s in $ex_sides; do
		if [ -n "${ex_pid[$s]:-}" ] && ! kill -0 "${ex_pid[$s]}" 2>/dev/null; then
			echo "$name: $s died; see $scratch/$s.log" >>"$storm_errors"
			exit 1
		fi
	done
	return 0
}

report() {
	[ -s "$results" ] || return 0
	echo
	echo "taglockfs benchmark: $reps repetition(s), median of each; ratio = taglockfs/native (throughput)"
	echo "machine: $machine"
	[ $native_only -eq 0 ] && echo "daemon: $daemon (${fuse_lib:+$(basename "$fuse_lib"), }open files limit $daemon_nofile${extra_opts:+, -o $extra_opts})"
	echo "sizes: sequential ${seq_mib} MiB, storm ${storm_n} files, image ${img_layers}x${layer_mib} MiB (${img_mb} MB), registry ${reg_repos} repositories x ${reg_tags} tags, ${reg_gets} GETs"
	if [ $baseline -eq 1 ]; then
		echo "baseline: libfuse ${TLK_EXAMPLE_VERSION:-?} examples over the native registry tree, ratio = example/native:"
		echo "  hp    = passthrough_hp --foreground (defaults: 86400 s entry, attribute and negative timeouts, keep_cache, kernel passthrough)"
		echo "  hp_nc = passthrough_hp --foreground --nocache (timeouts 0, no keep_cache, noflush for readers, kernel passthrough)"
		echo "  ll    = passthrough_ll -f -o source=DIR (defaults: cache=auto, 1 s timeouts, no passthrough)"
	fi
	awk -v units="$units" -v ex="$ex_sides" '
	function median(list,   a, n, i, j, t) {
		if (list ~ /fail/) return "fail"
		n = split(list, a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		if (n == 0) return ""
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function ratio_of(v, nat) {
		return (nat != "" && v != "" && nat != "fail" && v != "fail" && nat + 0 > 0) ? sprintf("%.2f", v / nat) : "-"
	}
	function dash(v) { return v == "" ? "-" : v }
	function rawlist(v) { gsub(/^ /, "", v); gsub(/ /, ",", v); return dash(v) }
	BEGIN {
		while ((getline line < units) > 0) { split(line, u, " "); unit[u[1]] = u[2]; order[++n] = u[1] }
		nex = split(ex, exs, " ")
		short["passthrough_hp"] = "hp"; short["passthrough_hp_nocache"] = "hp_nc"; short["passthrough_ll"] = "ll"
	}
	{ vals[$1, $2] = vals[$1, $2] " " $3 }
	END {
		printf "%-22s %12s %12s %7s", "measurement", "native", "taglockfs", "ratio"
		for (k = 1; k <= nex; k++) printf " %10s %6s", short[exs[k]], "ratio"
		printf "  %s\n", "unit"
		nb = 0
		for (i = 1; i <= n; i++) {
			name = order[i]
			nat = median(vals[name, "native"]); tlk = median(vals[name, "taglockfs"])
			ratio = ratio_of(tlk, nat)
			printf "%-22s %12s %12s %7s", name, dash(nat), dash(tlk), ratio
			for (k = 1; k <= nex; k++) {
				v = median(vals[name, exs[k]])
				printf " %10s %6s", dash(v), v == "" ? "-" : ratio_of(v, nat)
				if (v != "")
					exbench[++nb] = sprintf("BENCH name=%s side=%s value=%s native=%s ratio=%s unit=%s",
						name, exs[k], v, dash(nat), ratio_of(v, nat), unit[name])
			}
			printf "  %s\n", unit[name]
			bench[i] = sprintf("BENCH name=%s native=%s taglockfs=%s ratio=%s unit=%s",
				name, dash(nat), dash(tlk), ratio, unit[name])
		}
		print ""
		for (i = 1; i <= n; i++) print bench[i]
		for (i = 1; i <= nb; i++) print exbench[i]
		for (i = 1; i <= n; i++) {
			name = order[i]
			printf "RAW name=%s native=%s taglockfs=%s\n", name, rawlist(vals[name, "native"]), rawlist(vals[name, "taglockfs"])
		}
		for (i = 1; i <= n; i++)
			for (k = 1; k <= nex; k++)
				if (vals[order[i], exs[k]] != "")
					printf "RAW name=%s side=%s values=%s\n", order[i], exs[k], rawlist(vals[order[i], exs[k]])
	}' "$results"
	if [ -s "$storm_errors" ]; then
		echo
		echo "failures (\"fail\" above):"
		sed 's/^/  /' "$storm_errors"
	fi
}

if want gate; then gen_gate_image; fi
if want e2e; then
	gen_image
	img_mb=$(du -sb --apparent-size "$img/blobs" | awk '{ printf "%d", $1 / 1000000 }')
fi

machine="$(uname -r), $(nproc) CPU $(lscpu | sed -n 's/^Model name: *//p' | head -n1), \
$(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, $(findmnt -no FSTYPE -T "$bt") on $(findmnt -no SOURCE -T "$bt")"
if [ $native_only -eq 0 ]; then
	fuse_lib=$(ldd "$daemon" 2>/dev/null | awk '/libfuse3/ { print $3 }' || true)
	if [ -n "$fuse_lib" ]; then
		fuse_lib=$(readlink -f "$fuse_lib")
	else # linked in statically (scripts/lib/fastbuild.sh): ask the binary
		fuse_lib="$("$daemon" --version | sed -n 's/.*(\(libfuse [^)]*\)).*/\1/p') static"
	fi
	mount_daemon
	daemon_nofile=$(awk '/^Max open files/ { print $4 "/" $5 }' "/proc/$daemon_pid/limits")
	log "taglockfs mounted (pid $daemon_pid, ${fuse_lib:-libfuse unknown}, open files soft/hard $daemon_nofile)"
fi
if want registry; then setup_regtree; fi
if [ $baseline -eq 1 ]; then setup_examples; fi
reporting=1

# The disk of a virtual machine is slow where it writes for the first time
# after a discard (ext4 -o discard frees the blocks of every deleted file):
# write and delete the sequential file once, untimed, before measuring.
if want write || want read; then
	log "warming up the disk"
	dd if=/dev/zero of="$native/warmup.bin" bs=1M count="$seq_mib" conv=fsync status=none
	rm -f "$native/warmup.bin"
	sync
fi

for ((rep = 1; rep <= reps; rep++)); do
	for side in $(sides "$rep"); do
		log "repetition $rep/$reps: $side"
		if is_example "$side"; then
			# Mounted for its own turn only: both examples hold a descriptor
			# per inode the kernel knows, which would keep the native tree's
			# dentries and inodes in memory through the other sides' cold runs
			# (and its 86400 s cache from one repetition to the next).
			ex_mount "$side"
			run_phase "registry $side" bench_registry "$side" "$rep"
			ex_unmount "$side"
			continue
		fi
		if want write || want read; then run_phase "sequential $side" bench_seq "$side"; fi
		if want storm; then run_phase "storm $side" bench_storm "$side"; fi
		if want locked; then run_phase "locked storm $side" bench_locked "$side" "$rep"; fi
		if want e2e; then run_phase "e2e $side" bench_e2e "$side" "$rep"; fi
		if want registry; then run_phase "registry $side" bench_registry "$side" "$rep"; fi
	done
done
# The gate phase leaves protected tags in the mount's docker/ (both of its
# sides run on taglockfs), which the e2e phase could then not empty: it runs
# after all the others.
if want gate && [ $native_only -eq 0 ]; then
	for ((rep = 1; rep <= reps; rep++)); do
		for side in $(sides "$rep"); do
			log "repetition $rep/$reps: gate, $side"
			run_phase "gate $side" bench_gate "$side" "$rep"
		done
	done
fi
if want res && [ $native_only -eq 0 ]; then run_phase resources bench_resources; fi
