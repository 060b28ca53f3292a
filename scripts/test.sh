#!/usr/bin/env bash
# test.sh - install what is missing, build, run every test.
#
#   1. the main build (libfuse 3.14 from Debian): every suite (unit,
#      integration, plugin);
#   2. the unit suite again under valgrind;
#   3. an AddressSanitizer/UndefinedBehaviorSanitizer build: unit and
#      integration suites (the daemon runs sanitized; any report fails);
#   4. a build against libfuse 3.17 with kernel passthrough
#      (scripts/build-libfuse.sh): unit and integration suites, so
#      enforcement is shown identical on both builds;
#   4b. where the kernel has FUSE over io_uring: a build against libfuse
#      3.18 with io_uring (scripts/build-libfuse.sh --uring), integration
#      suite with every mount served over io_uring (TLK_MOUNT_OPTIONS=
#      io_uring; the kernel's enable_uring is set to Y for the pass and
#      put back after);
#   5. every fuzz target under libFuzzer (scripts/fuzz.sh) for
#      TLK_FUZZ_SECONDS each (default 20): a crash fails the run (counted
#      as one test).
#
# Usage: scripts/test.sh [--quick]   (--quick: step 1 only)
# Ends with one line "N passed, N failed, N skipped" over all steps.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
[ "${1:-}" = --quick ] && quick=1

scripts/deps.sh test || exit 1
modprobe fuse 2>/dev/null || true

passed=0 failed=0 skipped=0 status=0
# Add the results of one meson test run to the totals.
count() {
	local log
	log=$(ls -t "$1"/meson-logs/testlog*.json 2>/dev/null | head -n1)
	[ -n "$log" ] || return 0
	read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
c = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    c[r["result"]] = c.get(r["result"], 0) + 1
ok = c.get("OK", 0) + c.get("EXPECTEDFAIL", 0)
skip = c.get("SKIP", 0)
print(ok, sum(c.values()) - ok - skip, skip)
PY
)
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# setup DIR [meson options...]: configure (again) and build.
setup() {
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi && meson compile -C "$dir"
}

# build_against PREFIX DIR [build-libfuse.sh options...]: libfuse built
# from Debian's source into .libfuse/PREFIX, then DIR configured against it
# with kernel passthrough and compiled; a failure is counted and said.
build_against() {
	local prefix=$1 dir=$2 pcdir
	shift 2
	if ! scripts/build-libfuse.sh "$@" >/dev/null; then
		echo "test.sh: building libfuse ($prefix) failed" >&2
		status=1 failed=$((failed + 1))
		return 1
	fi
	pcdir=$(dirname "$(find "$root/.libfuse/$prefix" -name fuse3.pc | head -n1)")
	if ! PKG_CONFIG_PATH=$pcdir setup "$dir" -Dpassthrough=enabled \
		-Dplugin=disabled; then
		echo "test.sh: the build in $dir failed" >&2
		status=1 failed=$((failed + 1))
		return 1
	fi
}

# run TITLE DIR [meson test args...]
run() {
	local title=$1 dir=$2
	shift 2
	echo "=== $title"
	rm -f "$dir"/meson-logs/testlog*.json
	meson test -C "$dir" --print-errorlogs "$@" || status=1
	count "$dir"
}

build=${TLK_BUILD_DIR:-build}
if setup "$build"; then
	run "main build: all suites" "$build"
else
	echo "test.sh: build failed" >&2
	exit 1
fi

if [ $quick -eq 0 ]; then
	run "unit suite under valgrind" "$build" --suite unit \
		--wrapper 'valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite'

	if setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dplugin=disabled; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			run "sanitizer build: unit and integration" build-asan \
			--suite unit --suite integration
	else
		echo "test.sh: sanitizer build failed" >&2
		status=1 failed=$((failed + 1))
	fi

	if build_against prefix build-pt; then
		run "libfuse 3.17 + kernel passthrough: unit and integration" \
			build-pt --suite unit --suite integration
	fi

	uring_knob=/sys/module/fuse/parameters/enable_uring
	if [ -w "$uring_knob" ]; then
		if build_against prefix-forky build-uring --uring; then
			knob_was=$(cat "$uring_knob")
			echo Y >"$uring_knob"
			TLK_MOUNT_OPTIONS=io_uring run \
				"libfuse 3.18, every mount over io_uring: integration" \
				build-uring --suite integration
			echo "$knob_was" >"$uring_knob"
		fi
	else
		echo "=== no FUSE over io_uring in this kernel ($uring_knob): io_uring pass not run"
	fi
fi

if [ $quick -eq 0 ]; then
	echo "=== libFuzzer: every target for ${TLK_FUZZ_SECONDS:-20} s"
	if scripts/fuzz.sh --seconds "${TLK_FUZZ_SECONDS:-20}"; then
		passed=$((passed + 1))
	else
		status=1 failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit $status
