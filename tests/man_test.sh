#!/usr/bin/env bash
# The generated man pages: one per command, each renders without warnings
# (where man is installed), and beambox-exec(1) carries every exec option of
# `beambox exec --help` (both come from src/cli/args.c). Usage: man_test.sh MANDIR BEAMBOX
set -euo pipefail
dir=$1 beambox=$2
for p in beambox beambox-exec beambox-policy beambox-demo; do
	[ -s "$dir/$p.1" ] || { echo "missing $dir/$p.1"; exit 1; }
	grep -q "^\.TH ${p^^} " "$dir/$p.1" || { echo "$p.1: wrong title"; exit 1; }
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 man --warnings -l "$dir/$p.1" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "$p.1: $out"; exit 1; }
	fi
done
"$beambox" exec --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | sed 's/.*--//' | while read -r opt; do
	grep -q -- "\\\\-\\\\-${opt//-/\\\\-}" "$dir/beambox-exec.1" || { echo "beambox-exec.1 lacks --$opt"; exit 1; }
done
# ... and beambox-policy(1) every option of `beambox policy --help` (learn's --worker too).
"$beambox" policy --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | sed 's/.*--//' | while read -r opt; do
	grep -q -- "\\\\-\\\\-${opt//-/\\\\-}" "$dir/beambox-policy.1" || { echo "beambox-policy.1 lacks --$opt"; exit 1; }
done
echo "man pages: ok"
