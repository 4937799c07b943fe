#!/usr/bin/env bash
# valgrind memcheck over the unit tests that spawn no confined worker
# (test_util, test_cli_args, test_data, test_beam, test_remote): no invalid access, no use
# of uninitialised values, no definite or indirect leak, no fd left open at
# exit. Workers are out of scope: they re-execute the test binary outside
# valgrind's control and confine themselves under seccomp (tests/run-suite.sh
# covers them with ASan). test_policy is left out: compiling a filter makes
# libseccomp ask the kernel which actions it supports with seccomp(2), which
# valgrind 3.19 does not implement ("unhandled amd64-linux syscall: 317"), so
# kill-process looks unsupported and those tests fail (ASan covers them).
#
# The build is plain gcc (no sanitizer: valgrind and ASan exclude each other).
#   BX_VALGRIND_BUILD  build directory to use (default: a temp dir, removed at exit)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -n "${BX_VALGRIND_BUILD:-}" ]; then
	build=$BX_VALGRIND_BUILD
else
	build=$(mktemp -d /tmp/beambox-valgrind.XXXXXX)
	trap 'rm -rf "$build"' EXIT
fi
tests=(test_util test_cli_args test_data test_beam test_remote test_relay)

cmake -S . -B "$build" -DBX_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
	-DBX_BENCH=OFF -DBX_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${tests[@]}" >/dev/null

# --track-fds=yes lists every fd open at exit, with "<inherited from parent>"
# under those the test did not open; any other one is a leak (valgrind itself
# does not fail on it, this script does).
# --child-silent-after-fork: a forked child's exit is not the test's.
# No zygote (spawn.h): its socket and pidfd would be open at exit, and valgrind
# cannot follow its start (clone3, the sealed copy of /proc/self/exe).
export BEAMBOX_NO_ZYGOTE=1
status=0
for t in "${tests[@]}"; do
	log=$build/$t.valgrind.log
	start=$(date +%s)
	rc=0
	# test_remote's test_process_* run worker processes: a re-executed
	# /proc/self/exe is valgrind's own tool, pidfd_open is unknown to valgrind
	# 3.19, and the forked original-protocol worker dies on purpose mid-job
	# (its _exit then reports leaks). They run everywhere else (plain, ASan, TSan).
	skip=
	[ "$t" = test_remote ] && skip="test_process_*"
	BX_TEST_SKIP=$skip \
	valgrind --quiet --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--track-fds=yes --child-silent-after-fork=yes --log-file="$log" \
		"$build/tests/$t" >"$build/$t.out" 2>&1 || rc=$?
	# An fd open at exit that the test did not inherit (valgrind marks those).
	leaked=$(awk '/== Open (file descriptor|AF_UNIX socket) [0-9]+/ { fd = $0; next }
		fd != "" { if ($0 !~ /inherited from parent/) print fd; fd = "" }' "$log")
	echo "--- $t: exit $rc, $(($(date +%s) - start)) s"
	if [ "$rc" != 0 ] || [ -n "$leaked" ]; then
		[ -n "$leaked" ] && echo "fds left open at exit:" && echo "$leaked"
		tail -n 40 "$build/$t.out"
		cat "$log"
		status=1
	fi
done
[ "$status" = 0 ] && echo "valgrind: clean"
exit "$status"
