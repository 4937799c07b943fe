#!/usr/bin/env bash
# `beambox policy learn` end to end: /usr/bin/id dies by SIGSYS under the
# default policy (it opens a socket to ask for group names); a policy learned
# from one run of it under the default's sandbox is valid, names that call
# with the family it used, and lets the same command run to completion under
# `beambox exec`. A perl probe then checks what learning records (a syscall
# newer than libseccomp by its kernel name, prctl's option), what it refuses
# (vsock, on the deny list), and that learn exits with the program's status.
# Usage: learn_test.sh BEAMBOX POLICIES_DIR
set -euo pipefail
bx=$1
policies=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "$*"
	for f in "$tmp"/*; do echo "--- $f"; cat "$f"; done
	exit 1
}

status=0
"$bx" exec --policy "$policies/default.policy" -- /usr/bin/id >/dev/null 2>&1 || status=$?
[ "$status" = 159 ] || fail "id under default.policy: status $status, want 159 (SIGSYS)"

"$bx" policy learn --policy "$policies/default.policy" -o "$tmp/id.policy" -- /usr/bin/id >"$tmp/out" 2>"$tmp/err"
grep -q "^uid=" "$tmp/out" || fail "learn did not run id"
grep -q "A starting point to review, not a verdict" "$tmp/id.policy"
grep -qx "socket: arg0 == AF_UNIX" "$tmp/id.policy" || fail "learned policy lacks socket(AF_UNIX)"
grep -qx "read: 1" "$tmp/id.policy"
"$bx" policy check "$tmp/id.policy"
"$bx" exec --policy "$tmp/id.policy" -- /usr/bin/id | grep -q "^uid="

# What learning records and refuses; its exit status is the program's.
if command -v perl >/dev/null; then
	status=0
	"$bx" policy learn --policy "$policies/default.policy" -o "$tmp/perl.policy" -- \
		/usr/bin/perl -e '
			my $r = syscall(458, 0, 0, 0, 0);        # listmount (Linux 6.8)
			my $name = "learned";
			syscall(157, 15, $name, 0, 0, 0);        # prctl(PR_SET_NAME)
			$r = syscall(41, 40, 1, 0);              # socket(AF_VSOCK, SOCK_STREAM)
			print "vsock=", ($r < 0 ? $!+0 : "open"), "\n";
			exit 7' >"$tmp/perl.out" 2>"$tmp/perl.err" || status=$?
	[ "$status" = 7 ] || fail "learn exited $status, want the program's 7"
	grep -q "exiting with it" "$tmp/perl.err" || fail "learn does not say it exits with the program's status"
	grep -qx "vsock=97" "$tmp/perl.out" || fail "socket(AF_VSOCK) not refused with EAFNOSUPPORT under learning"
	grep -qx "listmount: 1" "$tmp/perl.policy" || fail "listmount (newer than libseccomp) not recorded by name"
	grep -qx "prctl: arg0 == PR_SET_NAME" "$tmp/perl.policy" || fail "prctl recorded without its option"
	if grep -qx "prctl: 1" "$tmp/perl.policy"; then fail "a bare prctl: 1 was learned"; fi
	if grep -q "^socket" "$tmp/perl.policy"; then fail "the refused vsock socket was learned"; fi
	"$bx" policy check "$tmp/perl.policy"
else
	echo "SKIPPED: the learning probes need perl"
fi

# Learning needs --policy, and says so.
if "$bx" policy learn -- /bin/true 2>"$tmp/err"; then echo "learn without --policy accepted"; exit 1; fi
grep -q -- "--policy BASE is required" "$tmp/err"
echo "2 passed, 0 failed"
