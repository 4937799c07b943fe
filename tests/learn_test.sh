#!/usr/bin/env bash
# `beambox policy learn` end to end: /usr/bin/id dies by SIGSYS under the
# default policy (it opens a socket to ask for group names); a policy learned
# from one run of it under the default's sandbox is valid, names that call,
# and lets the same command run to completion under `beambox exec`.
# Usage: learn_test.sh BEAMBOX POLICIES_DIR
set -euo pipefail
bx=$1
policies=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
"$bx" exec --policy "$policies/default.policy" -- /usr/bin/id >/dev/null 2>&1 || status=$?
[ "$status" = 159 ] || { echo "id under default.policy: status $status, want 159 (SIGSYS)"; exit 1; }

"$bx" policy learn --policy "$policies/default.policy" -o "$tmp/id.policy" -- /usr/bin/id >"$tmp/out" 2>"$tmp/err"
grep -q "^uid=" "$tmp/out" || { echo "learn did not run id:"; cat "$tmp/out" "$tmp/err"; exit 1; }
grep -q "A starting point to review, not a verdict" "$tmp/id.policy"
grep -qx "socket: 1" "$tmp/id.policy" || { echo "learned policy lacks socket:"; cat "$tmp/id.policy"; exit 1; }
grep -qx "read: 1" "$tmp/id.policy"
"$bx" policy check "$tmp/id.policy"
"$bx" exec --policy "$tmp/id.policy" -- /usr/bin/id | grep -q "^uid="

# Learning needs --policy, and says so.
if "$bx" policy learn -- /bin/true 2>"$tmp/err"; then echo "learn without --policy accepted"; exit 1; fi
grep -q -- "--policy BASE is required" "$tmp/err"
echo "1 passed, 0 failed"
