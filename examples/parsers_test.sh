#!/usr/bin/env bash
# examples/parsers with --out and --audit-log: the decompressed files arrive
# through the fds the parent passed, and the audit log has a record for each
# worker, each job and each exit. Usage: parsers_test.sh PARSERS DATA_DIR
set -euo pipefail
parsers=$1 data=$2
work=$(mktemp -d /tmp/beambox-parsers.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work"
"$parsers" --out "$work" --audit-log "$work/audit.jsonl" "$data" >"$work/table"
grep -q 'hello.txt.gz.*ok: 100 bytes -> 95 bytes (wrote hello.txt)' "$work/table"
grep -q 'inflated by zlib' "$work/hello.txt"
[ "$(wc -c <"$work/notes.txt")" = 8154 ]
# The bomb's output stopped at the limit: nothing past 16 MiB was written.
[ "$(wc -c <"$work/bomb")" -le $((16 << 20)) ]
log=$work/audit.jsonl
count() { grep -c "\"event\":\"$1\"" "$log" || true; }
[ "$(count worker_spawned)" = 2 ] || { echo "worker_spawned: $(count worker_spawned)"; cat "$log"; exit 1; }
[ "$(count job_started)" = 9 ] && [ "$(count job_ended)" = 9 ] && [ "$(count worker_exited)" = 2 ] ||
	{ echo "unexpected records"; cat "$log"; exit 1; }
grep -q '"event":"worker_spawned".*"policy":"gunzip".*"steps":\[{"name":"fds"' "$log"
grep -q '"event":"job_ended".*"job":"gunzip".*"status":2' "$log"
echo "parsers: outputs and $(wc -l <"$log") audit records as expected"
