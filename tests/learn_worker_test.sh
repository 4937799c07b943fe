#!/usr/bin/env bash
# `beambox policy learn --worker` end to end (#9.5): learn_worker_probe is an
# application of the library whose handler makes calls a tight policy lacks
# (uname, getrandom, socket(AF_UNIX)). Under that policy alone its workers
# die by SIGSYS; learned from its own jobs (one worker, then two at once),
# the policy names those calls (socket with its family) and none of
# beambox's runtime calls, is valid, and runs the same jobs. A stray
# BEAMBOX_LEARN_FD makes every spawn fail (fail closed), and a program with
# no worker learns nothing.
# Usage: learn_worker_test.sh BEAMBOX LEARN_WORKER_PROBE DATA_DIR
set -euo pipefail
bx=$1
probe=$2
data=$3
base=$data/learn_worker_base.policy
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	for f in "$tmp"/*; do echo "--- $f"; cat "$f"; done
	exit 1
}
passed=0

# 1. The base policy alone: every worker dies by SIGSYS in the probe.
status=0
"$probe" "$base" >"$tmp/base.out" 2>"$tmp/base.err" || status=$?
[ "$status" = 3 ] || fail "probe under the base: status $status, want 3"
# (Each named by its init: "stopped: uname(...) is not allowed by learn_worker_base.policy".)
[ "$(grep -c "stopped: uname(.*) is not allowed by learn_worker_base.policy; to allow it add 'uname: 1'" "$tmp/base.err")" = 3 ] ||
	fail "probe under the base: want three workers stopped at uname, named"
passed=$((passed + 1))

# 2. Learned from the probe's own jobs: the exit status is the probe's.
status=0
"$bx" policy learn --worker -o "$tmp/learned.policy" -- "$probe" "$base" \
	>"$tmp/learn.out" 2>"$tmp/learn.err" || status=$?
if grep -q "BX_WORKER_LEARNING=OFF" "$tmp/learn.err"; then
	echo "SKIPPED: this build does not learn workers (-DBX_WORKER_LEARNING=OFF)"
	exit 0
fi
[ "$status" = 0 ] || fail "learn --worker: status $status, want the probe's 0"
[ "$(grep -c 'probe ok' "$tmp/learn.out")" = 3 ] || fail "the jobs did not run while learning"
grep -q "learning mode: workers start cold" "$tmp/learn.err" ||
	fail "the application did not say it is in learning mode"
grep -q "exiting with it" "$tmp/learn.err" || fail "learn does not say it exits with the program's status"
p=$tmp/learned.policy
grep -q "A starting point to review, not a verdict" "$p" || fail "no review note"
grep -qx "# Learned from 3 workers." "$p" || fail "not every worker was learned"
for want in "uname: 1" "getrandom: 1" "socket: arg0 == AF_UNIX" "write: 1" "default-action = kill-process"; do
	grep -qx "$want" "$p" || fail "learned policy lacks '$want'"
done
# The base's settings ("uid = dynamic" of the default it inherits), none of the runtime's calls.
grep -qx "uid = dynamic" "$p" || fail "the base's uid = dynamic was lost"
for runtime in sendmsg recvmsg ppoll poll exit_group epoll_wait eventfd2 munmap brk; do
	if grep -q "^$runtime:" "$p"; then fail "beambox's runtime call $runtime was learned"; fi
done
"$bx" policy check "$p" >/dev/null || fail "the learned policy is not valid"
passed=$((passed + 1))

# 3. The learned policy runs the same jobs.
"$probe" "$p" >"$tmp/learned.out" 2>"$tmp/learned.err" || fail "probe under the learned policy failed"
[ "$(grep -c 'probe ok' "$tmp/learned.out")" = 3 ] || fail "jobs under the learned policy"
passed=$((passed + 1))

# 4. Fail closed: a stray variable (not our supervisor's socket) stops every spawn.
status=0
BEAMBOX_LEARN_FD=1 BEAMBOX_LEARN_PID=1 "$probe" "$base" >"$tmp/stray.out" 2>"$tmp/stray.err" || status=$?
[ "$status" = 3 ] || fail "stray BEAMBOX_LEARN_FD: status $status, want 3"
grep -q "learning mode refused" "$tmp/stray.err" || fail "stray BEAMBOX_LEARN_FD not refused"
if grep -q "probe ok" "$tmp/stray.out"; then fail "a worker ran with a stray BEAMBOX_LEARN_FD"; fi
status=0
BEAMBOX_LEARN_FD=1 "$probe" "$base" >"$tmp/stray.out" 2>"$tmp/stray.err" || status=$?
[ "$status" = 3 ] && grep -q "learning mode refused" "$tmp/stray.err" ||
	fail "BEAMBOX_LEARN_FD without its pid not refused"
passed=$((passed + 1))

# 5. A program that starts no worker learns nothing, and says so; --worker takes no --policy.
status=0
"$bx" policy learn --worker -o "$tmp/none.policy" -- /bin/true 2>"$tmp/none.err" || status=$?
[ "$status" = 125 ] || fail "learn --worker of /bin/true: status $status, want 125"
grep -q "no worker of /bin/true learned" "$tmp/none.err" || fail "no-worker case not explained"
if "$bx" policy learn --worker --policy default -- /bin/true 2>"$tmp/err"; then fail "--worker --policy accepted"; fi
grep -q -- "--worker takes no --policy" "$tmp/err" || fail "--worker --policy not explained"
"$bx" policy learn --help | grep -q -- "--worker" || fail "--help does not document --worker"
passed=$((passed + 1))

echo "$passed passed, 0 failed"
