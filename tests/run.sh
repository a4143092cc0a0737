#!/usr/bin/env bash
# tests/run.sh: the one test command.
#
# Run as root on Debian 12. Installs the packages the build and the tests
# need (deploy/packages.sh), builds twice (build/ normally, build-asan/
# with AddressSanitizer + UBSan), runs every test through ctest in both and
# exits non-zero on any failure or sanitizer report. Safe to run again.
#
# Environment (optional): NODETASK_BUILD and NODETASK_BUILD_ASAN name the
# two build directories (relative to the repository or absolute);
# NODETASK_JOBS sets build and ctest parallelism.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=deploy/packages.sh disable=SC1091
source "$ROOT/deploy/packages.sh"

BUILD=${NODETASK_BUILD:-build}
BUILD_ASAN=${NODETASK_BUILD_ASAN:-build-asan}
JOBS=${NODETASK_JOBS:-$(nproc)}
START=$SECONDS

log()
{
	printf '== run.sh [%4ds]: %s\n' "$((SECONDS - START))" "$*" >&2
}

log "packages"
nt_install_packages "${NT_PKGS_BUILD[@]}" "${NT_PKGS_RUN[@]}" \
	"${NT_PKGS_TEST[@]}"

# The agent's tests use loop devices; a kernel with loop built in (or no
# module tree in a container) makes modprobe fail harmlessly.
modprobe loop 2>/dev/null || true
if ! losetup -f >/dev/null 2>&1; then
	log "warning: no free loop device; tests that need one will fail"
fi

PASSED=0
FAILED=0

# build_and_test NAME DIR [cmake options...]
build_and_test()
{
	local name=$1 dir=$2
	shift 2
	local out="$dir/ctest-output.log"

	log "$name: configure and build in $dir"
	if ! cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DNODETASK_TESTS=ON "$@" \
		>/dev/null ||
		! cmake --build "$dir" --parallel "$JOBS"; then
		log "$name: BUILD FAILED"
		FAILED=$((FAILED + 1))
		return 0
	fi

	log "$name: ctest"
	local rc=0
	(cd "$dir" && ctest --output-on-failure --no-tests=error \
		--parallel "$JOBS") 2>&1 | tee "$out" || rc=$?

	# "100% tests passed, 0 tests failed out of 27"
	local line total failed
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' \
		"$out" | tail -n 1 || true)
	if [[ -z $line ]]; then
		log "$name: ctest printed no summary (exit $rc)"
		FAILED=$((FAILED + 1))
		return 0
	fi
	failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
	total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
	PASSED=$((PASSED + total - failed))
	FAILED=$((FAILED + failed))
	if ((rc != 0 && failed == 0)); then
		log "$name: ctest exited $rc"
		FAILED=$((FAILED + 1))
	fi
}

build_and_test normal "$BUILD"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
build_and_test sanitizers "$BUILD_ASAN" -DNODETASK_SANITIZE=ON
unset ASAN_OPTIONS UBSAN_OPTIONS

log "done in $((SECONDS - START)) s (normal and sanitizer builds)"
echo "summary: $PASSED passed, $FAILED failed"
if ((FAILED != 0)); then
	exit 1
fi
