#!/usr/bin/env bash
# demo.sh - the product's main job, end to end, on this machine:
# a stock registry (Debian's docker-registry) on a loopback port, its
# storage directory mounted in place by taglockfs with a policy that makes
# test/example immutable, nginx in front of it asking taglockfs's gate
# about manifest pushes (contrib/nginx/), and the product page's
# Verification replayed with real pushes through nginx (skopeo, locally
# generated OCI images, no network needed). Step 2 also pushes to the
# registry's own port, to show the filesystem refusing underneath. At the
# end, what the daemon's metrics endpoint (-o metrics=) shows of it all.
#
# Usage: scripts/demo.sh            (as root on Debian 12)
# Installs missing packages (scripts/deps.sh demo), builds what
# scripts/lib/fastbuild.sh chooses (build-fast/: libfuse 3.17 linked in
# statically, with kernel passthrough, where the kernel has it; else build/;
# TLK_BUILD_DIR=DIR names the directory), says which build and why, prints
# every step and a summary table. Exit 0 when every step
# behaved as the product page says, 1 otherwise. Leaves nothing running.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

case "${1:-}" in
-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "usage: $0 [--help]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=${TLK_BUILD_DIR:-}
REPO=test/example

# ------------------------------------------------------------ presentation
if [ -t 1 ]; then
	B=$'\e[1m' DIM=$'\e[2m' RED=$'\e[31m' GRN=$'\e[32m' YEL=$'\e[33m' CYA=$'\e[36m' R0=$'\e[0m'
else
	B='' DIM='' RED='' GRN='' YEL='' CYA='' R0=''
fi
say() { printf '%s\n' "$*"; }
heading() { printf '\n%s== %s ==%s\n' "$B$CYA" "$*" "$R0"; }
info() { printf '   %s\n' "$*"; }
cmdline() { printf '   %s$ %s%s\n' "$DIM" "$*" "$R0"; }
die() { printf '%sdemo.sh: %s%s\n' "$RED" "$*" "$R0" >&2; exit 1; }

# ------------------------------------------------------------ cleanup
WORK='' STORE='' DAEMON_PID='' REG_PID=''
# stop PID: SIGTERM, wait up to 5 s, then SIGKILL.
stop() {
	kill -0 "$1" 2>/dev/null || return 0
	kill "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	set +e
	[ -z "$NGINX_PID" ] || stop "$NGINX_PID"
	[ -z "$REG_PID" ] || stop "$REG_PID"
	if [ -n "$STORE" ] && mountpoint -q "$STORE" 2>/dev/null; then
		for _ in $(seq 30); do
			fusermount3 -u "$STORE" 2>/dev/null && break
			sleep 0.2
		done
		mountpoint -q "$STORE" 2>/dev/null && umount -l "$STORE" 2>/dev/null
	fi
	if [ -n "$DAEMON_PID" ]; then
		for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if grep -qF " $WORK/" /proc/mounts; then
			echo "demo.sh: $WORK is still mounted; leaving it in place" >&2
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ------------------------------------------------------------ preparation
[ "$(id -u)" -eq 0 ] || die "run me as root (FUSE mounts and package installs)"

heading "Preparing"
info "packages: scripts/deps.sh demo"
scripts/deps.sh demo
modprobe fuse 2>/dev/null || true
[ -e /dev/fuse ] || die "/dev/fuse is missing: this machine cannot mount FUSE filesystems"

# shellcheck source=lib/fastbuild.sh
source "$SRC/scripts/lib/fastbuild.sh"
tlk_build_setup "$BUILD" || die "meson setup failed"
BUILD=$TLK_BUILD
info "build: meson compile -C $BUILD"
meson compile -C "$BUILD" >"${TMPDIR:-/tmp}/taglockfs-demo-build.log" 2>&1 || {
	tail -n 30 "${TMPDIR:-/tmp}/taglockfs-demo-build.log" >&2
	die "build failed (full log: ${TMPDIR:-/tmp}/taglockfs-demo-build.log)"
}
rm -f "${TMPDIR:-/tmp}/taglockfs-demo-build.log"
TLK=$SRC/$BUILD/taglockfs
info "$(tlk_build_line)"

# shellcheck source=lib/mkoci.sh
source "$SRC/scripts/lib/mkoci.sh"
# shellcheck source=lib/nginx.sh
source "$SRC/scripts/lib/nginx.sh"
NGINX_SRC=$SRC

WORK=$(mktemp -d /tmp/taglockfs-demo.XXXXXX)
chmod 0755 "$WORK"
STORE=$WORK/registry-storage
POLICY=$WORK/policy.yaml
mkdir -p "$STORE" "$WORK/images"

cat >"$POLICY" <<'EOF'
version: 1
repositories:
  - name: test/example
    immutable: true
EOF
info "policy $POLICY:"
sed 's/^/      /' "$POLICY"
"$TLK" --check-policy "$POLICY" | sed 's/^/   /' || die "the sample policy does not validate"

GATE=$WORK/gate.sock
METRICS=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
info "mounting taglockfs in place over $STORE, with its gate on $GATE and metrics on $METRICS"
cmdline "$TLK -f -o policy=$POLICY,gate=$GATE,metrics=$METRICS $STORE &"
"$TLK" -f -o "policy=$POLICY,gate=$GATE,metrics=$METRICS" "$STORE" </dev/null >"$WORK/taglockfs.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do
	mountpoint -q "$STORE" && break
	kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/taglockfs.log" >&2; DAEMON_PID=''; die "taglockfs exited before mounting"; }
	sleep 0.1
done
mountpoint -q "$STORE" || { cat "$WORK/taglockfs.log" >&2; die "taglockfs did not mount $STORE"; }
info "$(grep -F " $STORE " /proc/mounts | awk '{print $1" on "$2" type "$3}')"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HOST=127.0.0.1:$(free_port)
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $STORE
  delete:
    enabled: true
http:
  addr: $HOST
EOF
info "starting the stock registry on $HOST (storage: $STORE)"
cmdline "docker-registry serve $WORK/registry.yml &"
docker-registry serve "$WORK/registry.yml" </dev/null >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 150); do
	curl -fsS "http://$HOST/v2/" >/dev/null 2>&1 && break
	kill -0 "$REG_PID" 2>/dev/null || { tail -n 20 "$WORK/registry.log" >&2; REG_PID=''; die "docker-registry exited"; }
	sleep 0.1
done
curl -fsS "http://$HOST/v2/" >/dev/null || die "docker-registry does not answer on $HOST"

# nginx in front, as an operator runs it: the registry's server {} with the
# two shipped includes (contrib/nginx/); its own config, pid file and logs.
FRONT=127.0.0.1:$(free_port)
mkdir -p "$WORK/nginx"
nginx_conf "$WORK/nginx" "$FRONT" "$HOST" "$GATE" >"$WORK/nginx/nginx.conf"
info "starting nginx on $FRONT in front of the registry (config $WORK/nginx/nginx.conf)"
cmdline "nginx -c $WORK/nginx/nginx.conf &"
nginx_start "$WORK/nginx" "$FRONT" || die "nginx did not start (see $WORK/nginx/error.log)"

info "generating two small OCI images (A and B) with scripts/lib/mkoci.sh"
DIG_A=$(mkoci "$WORK/images/A" taglockfs-demo-image-A 2 16)
DIG_B=$(mkoci "$WORK/images/B" taglockfs-demo-image-B 2 16)
info "image A: $DIG_A"
info "image B: $DIG_B"

# ------------------------------------------------------------ the steps
declare -a T_STEP=() T_WANT=() T_GOT=() T_RES=()
FAILED=0
ANSWER='' LINK=''

name_of() {
	case "$1" in
	"$DIG_A") echo A ;;
	"$DIG_B") echo B ;;
	"") echo none ;;
	*) echo "${1:0:19}" ;;
	esac
}

# push IMAGE TAG [HOST]: one skopeo push, through nginx unless HOST is
# given; sets ANSWER (ok|denied|refused) and prints what skopeo printed.
push() {
	local img=$1 tag=$2 to=${3:-$FRONT} out rc=0 regmark
	regmark=$(stat -c %s "$WORK/registry.log")
	cmdline "skopeo copy --dest-tls-verify=false oci:images/$img docker://$to/$REPO:$tag"
	out=$(skopeo --insecure-policy copy --all --preserve-digests --dest-tls-verify=false \
		"oci:$WORK/images/$img" "docker://$to/$REPO:$tag" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		ANSWER=ok
		printf '   push: %sok%s (pushed)\n' "$GRN" "$R0"
	else
		local msg
		msg=$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 1 | sed 's/^time="[^"]*" level=[a-z]* msg=//')
		case "$msg" in
		*"denied: The requested tag already exists and cannot be overwritten."*) ANSWER=denied ;;
		*) ANSWER=refused ;;
		esac
		printf '   push: %s%s%s (skopeo exit %d)\n' "$YEL" "$ANSWER" "$R0" "$rc"
		printf '   skopeo printed: %s\n' "$msg"
		if [ "$ANSWER" = denied ]; then
			info "registry: never received this manifest PUT (nginx asked the gate, which answered 403)"
		else
			registry_says "$regmark"
		fi
	fi
}

# registry_says OFFSET: the registry's own account of the last failed request.
registry_says() {
	local from=$1 line status detail pre
	sleep 0.2
	line=$(tail -c +"$((from + 1))" "$WORK/registry.log" | grep 'level=error' | grep -F '/manifests/' | tail -n 1 || true)
	[ -n "$line" ] || return 0
	status=$(printf '%s\n' "$line" | grep -o 'http.response.status=[0-9]*' | cut -d= -f2 || true)
	detail=$(printf '%s\n' "$line" | sed -n 's/.*err\.detail="\([^"]*\)".*/\1/p')
	pre="$STORE/docker/registry/v2/"
	detail=${detail//"$pre"/}
	info "registry: HTTP ${status:-?} UNKNOWN, ${detail:-no detail}"
}

# show_link TAG: print the digest in the tag's current/link; sets LINK.
show_link() {
	local f="$STORE/docker/registry/v2/repositories/$REPO/_manifests/tags/$1/current/link"
	LINK=$(cat "$f" 2>/dev/null || true)
	info "tags/$1/current/link: ${LINK:-<missing>} (image $(name_of "$LINK"))"
}

# record STEP WANT_ANSWER WANT_IMAGE
record() {
	local want got res
	want="$2, $1=$3"
	got="$ANSWER, $1=$(name_of "$LINK")"
	if [ "$want" = "$got" ]; then res=PASS; else res=FAIL; FAILED=1; fi
	T_STEP+=("$STEP") T_WANT+=("$want") T_GOT+=("$got") T_RES+=("$res")
	if [ $res = PASS ]; then printf '   %sPASS%s\n' "$GRN" "$R0"
	else printf '   %sFAIL%s: expected %s, got %s\n' "$RED" "$R0" "$want" "$got"; fi
}

daemon_says() {
	local from=$1 line
	line=$(tail -c +"$((from + 1))" "$WORK/taglockfs.log" |
		grep -F 'cannot be overwritten' | tail -n 1 || true)
	if [ -n "$line" ]; then
		info "taglockfs log: $line"
		case "$ANSWER" in refused | denied) ANSWER="$ANSWER+msg" ;; esac
	else
		info "taglockfs log: ${RED}no refusal logged${R0}"
	fi
}
logsize() { stat -c %s "$WORK/taglockfs.log"; }

heading "Step 1: push a new image with a tag other than latest ($REPO:v1 = A)"
STEP="1 push A as v1"
push A v1; show_link v1; record v1 ok A

heading "Step 2: push another image with the same tag ($REPO:v1 = B)"
info "expected: denied; the client is told \"The requested tag already exists and cannot be overwritten.\""
STEP="2 push B as v1"
mark=$(logsize)
push B v1
sleep 0.2
daemon_says "$mark"
show_link v1; record v1 denied+msg A

heading "Step 2, underneath: the same push to the registry's own port ($HOST)"
info "expected: refused by the filesystem (the registry answers HTTP 500); the daemon logs why"
STEP="2 same, no nginx"
mark=$(logsize)
push B v1 "$HOST"
sleep 0.2
daemon_says "$mark"
show_link v1; record v1 refused+msg A

heading "Step 2b: push the same image A as v1 again (identical re-push)"
info "expected: accepted, nothing changes (re-pushing the same image is not an overwrite)"
STEP="2b re-push A as v1"
push A v1; show_link v1; record v1 ok A

heading "Step 3: push an image as latest ($REPO:latest = A)"
STEP="3 push A as latest"
push A latest; show_link latest; record latest ok A

heading "Step 4: push another image as latest ($REPO:latest = B)"
info "expected: accepted, latest now points to B (latest stays mutable)"
STEP="4 push B as latest"
push B latest; show_link latest; record latest ok B

heading "Step 5: clear the Immutable check box (edit the policy, no remount)"
cmdline "sed -i 's/immutable: true/immutable: false/' $POLICY"
sed -i 's/immutable: true/immutable: false/' "$POLICY"
sed 's/^/      /' "$POLICY"
STEP="5 edit policy"
if "$TLK" --check-policy "$POLICY" >/dev/null 2>&1 && mountpoint -q "$STORE"; then
	ANSWER=ok
else
	ANSWER=failed
fi
LINK=$DIG_A
info "policy valid and still mounted: $ANSWER"
T_STEP+=("$STEP") T_WANT+=("ok") T_GOT+=("$ANSWER")
if [ "$ANSWER" = ok ]; then T_RES+=(PASS); else T_RES+=(FAIL); FAILED=1; fi

heading "Step 6: push B as v1 again ($REPO:v1 = B)"
info "expected: accepted, v1 now points to B"
STEP="6 push B as v1"
mark=$(logsize)
push B v1
reload=$(tail -c +"$((mark + 1))" "$WORK/taglockfs.log" | grep -F 'loaded' | tail -n 1 || true)
[ -z "$reload" ] || info "taglockfs log: $reload"
show_link v1; record v1 ok B

heading "Metrics: what an operator's Prometheus scrapes"
cmdline "curl -s http://$METRICS/metrics | grep -E '...'"
curl -fsS "http://$METRICS/metrics" |
	grep -E '^taglockfs_(refusals_total|decisions_total|policy_reloads_total|policy_info|policy_entries|inodes_cached|open_fds|fd_limit|gate_verdicts_total)' |
	awk '!/_total\{/ || $2 != 0 { print "   " $0 }' || info "metrics not answering on $METRICS"

# ------------------------------------------------------------ summary
heading "Summary"
printf '   %-20s %-20s %-20s %s\n' STEP EXPECTED GOT RESULT
printf '   %-20s %-20s %-20s %s\n' ---- -------- --- ------
for i in "${!T_STEP[@]}"; do
	if [ "${T_RES[$i]}" = PASS ]; then c=$GRN; else c=$RED; fi
	printf '   %-20s %-20s %-20s %s%s%s\n' "${T_STEP[$i]}" "${T_WANT[$i]}" \
		"${T_GOT[$i]}" "$c" "${T_RES[$i]}" "$R0"
done
say ""
if [ "$FAILED" -eq 0 ]; then
	printf '%sAll steps behaved as the product page says.%s\n' "$B$GRN" "$R0"
else
	printf '%sSome steps deviated; logs: taglockfs and registry output follow.%s\n' "$B$RED" "$R0"
	say "--- taglockfs log (tail)"; tail -n 30 "$WORK/taglockfs.log" || true
	say "--- nginx requests (tail)"; tail -n 12 "$WORK/nginx/access.log" || true
	say "--- registry requests (tail)"
	grep -E '^127\.0\.0\.1 ' "$WORK/registry.log" | tail -n 12 || true
fi
exit "$FAILED"
