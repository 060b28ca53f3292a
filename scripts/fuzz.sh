#!/usr/bin/env bash
# fuzz.sh - build the fuzz targets of tests/fuzz/ with libFuzzer and run each
# for a while, starting from its seed corpus.
#
# Usage: scripts/fuzz.sh [--seconds N] [--only LIST] [--keep]
#   --seconds N  how long each target runs (default 30)
#   --only LIST  comma-separated subset of: manifest,policy,audit,link
#   --keep       keep the work directory (binaries, grown corpora, logs)
#
# Each target is compiled with clang -fsanitize=fuzzer,address,undefined
# -DTLK_LIBFUZZER together with the core sources it calls, found as meson
# finds them (include/, the files of the tlkcore library in meson.build);
# nothing of the FUSE side is linked. Undefined behaviour aborts like a
# crash. The seed corpus tests/fuzz/corpus/<target>/ is copied, never
# written. Needs clang with libFuzzer (Debian: clang, libclang-rt-dev) and
# the libraries of scripts/deps.sh build.
#
# Prints per target the runs made; fails when a target crashes, fails a
# check, leaks, times out or does not build. A crash input is kept in the
# work directory (printed, kept whatever --keep says); replay it with the
# regression runner of a meson build: build/tests/fuzz/fuzz_<target> FILE,
# and add it to the target's corpus once fixed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

seconds=30 only='' keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--seconds)
		seconds=${2:-}
		shift 2 || { echo "fuzz.sh: --seconds needs a value" >&2; exit 2; }
		;;
	--seconds=*) seconds=${1#*=}; shift ;;
	--only) only=${2:-}; shift 2 || exit 2 ;;
	--only=*) only=${1#*=}; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case $seconds in
'' | *[!0-9]* | 0) echo "fuzz.sh: --seconds wants a positive number" >&2; exit 2 ;;
esac

# target: core sources | pkg-config modules | -max_len
declare -A sources=(
	[manifest]="src/manifest.c src/layout.c"
	[policy]="src/policy.c src/glob.c"
	[audit]="src/audit.c src/log.c"
	[link]="src/digest.c"
	[http]="src/http.c src/gate.c src/layout.c src/decide.c src/digest.c src/policy.c src/glob.c"
	[guard]="src/shadow.c src/decide.c src/layout.c src/digest.c"
	[layout]="src/layout.c"
)
declare -A modules=(
	[manifest]="jansson"
	[policy]="yaml-0.1 libcrypto"
	[audit]="jansson libcrypto"
	[link]=""
	[http]="jansson libcrypto yaml-0.1"
	[guard]=""
	[layout]=""
)
declare -A max_len=([manifest]=16384 [policy]=8192 [audit]=16384 [link]=256 [http]=8192 [guard]=4096 [layout]=1024)
all=(manifest policy audit link http guard layout)

targets=()
if [ -n "$only" ]; then
	IFS=, read -r -a targets <<<"$only"
	for t in "${targets[@]}"; do
		[ -n "${sources[$t]:-}" ] ||
			{ echo "fuzz.sh: no target '$t' (${all[*]})" >&2; exit 2; }
	done
else
	targets=("${all[@]}")
fi

cc=${CC_FUZZ:-clang}
command -v "$cc" >/dev/null ||
	{ echo "fuzz.sh: $cc not found (apt-get install clang)" >&2; exit 1; }

# The core library's sources as meson.build lists them: a target may only
# link those (pure, no FUSE).
core=$(sed -n "/static_library('tlk\(core\|http\)'/,/)/p" meson.build |
	grep -o "'src/[^']*\.c'" | tr -d "'")
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n1)

work=$(mktemp -d "${TMPDIR:-/tmp}/tlk-fuzz.XXXXXX")
crashed=0
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$keep" -eq 0 ] && [ "$crashed" -eq 0 ]; then
		rm -rf "$work"
	else
		echo "fuzz.sh: work directory kept: $work"
	fi
}
trap cleanup EXIT

# shellcheck disable=SC2054 # -fsanitize takes a comma-separated list
cflags=(-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra
	-Wno-unused-parameter -D_GNU_SOURCE "-DTLK_VERSION=\"$version\""
	-DTLK_LIBFUZZER -I"$root/include"
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)

status=0
summary=()
for t in "${targets[@]}"; do
	src=()
	for s in ${sources[$t]}; do
		if ! grep -qx "$s" <<<"$core"; then
			echo "fuzz.sh: $s is not in the tlkcore library of meson.build" >&2
			exit 1
		fi
		src+=("$root/$s")
	done
	libs=()
	if [ -n "${modules[$t]}" ]; then
		# shellcheck disable=SC2086 # a list of modules
		flags=$(pkg-config --cflags --libs ${modules[$t]}) ||
			{ echo "fuzz.sh: pkg-config ${modules[$t]} failed (scripts/deps.sh build)" >&2; exit 1; }
		read -r -a libs <<<"$flags"
	fi
	bin=$work/fuzz_$t
	echo "=== fuzz_$t: build"
	if ! "$cc" "${cflags[@]}" -o "$bin" "$root/tests/fuzz/fuzz_$t.c" \
		"${src[@]}" "${libs[@]}" -lpthread 2>"$work/build_$t.log"; then
		cat "$work/build_$t.log" >&2
		echo "fuzz.sh: fuzz_$t does not build" >&2
		status=1 crashed=1
		summary+=("fuzz_$t: BUILD FAILED")
		continue
	fi

	corpus=$work/corpus/$t
	mkdir -p "$corpus" "$work/crashes/$t"
	cp -r "$root/tests/fuzz/corpus/$t/." "$corpus/"
	dict=()
	[ -f "$root/tests/fuzz/dict/$t.dict" ] &&
		dict=(-dict="$root/tests/fuzz/dict/$t.dict")

	echo "=== fuzz_$t: ${seconds}s"
	(cd "$work" &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			"$bin" -max_total_time="$seconds" -timeout=10 \
			-rss_limit_mb=2048 -max_len="${max_len[$t]}" \
			-print_final_stats=1 "${dict[@]}" \
			-artifact_prefix="$work/crashes/$t/" "$corpus") \
		>"$work/run_$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run_$t.log" | tail -n1)
	cov=$(grep -o 'DONE *cov: [0-9]*' "$work/run_$t.log" | grep -o '[0-9]*$' | tail -n1)
	found=$(find "$work/crashes/$t" -type f | head -n1)
	if [ $rc -ne 0 ] || [ -n "$found" ]; then
		status=1 crashed=1
		grep -E 'ERROR|SUMMARY|check failed|runtime error|Test unit written' \
			"$work/run_$t.log" | head -n 20 >&2
		echo "fuzz.sh: fuzz_$t failed (exit $rc), log: $work/run_$t.log" >&2
		[ -n "$found" ] && echo "fuzz.sh: input: $found" >&2
		summary+=("fuzz_$t: ${runs:-?} runs in ${seconds}s, CRASH${found:+ ($found)}")
	else
		summary+=("fuzz_$t: ${runs:-?} runs in ${seconds}s, coverage ${cov:-?}, ok")
	fi
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
