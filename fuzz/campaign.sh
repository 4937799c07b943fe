#!/usr/bin/env bash
# A fuzzing campaign: every fuzz/*_fuzz.c target for SECONDS each (default
# 600), as many at a time as there are cores, each from its seed corpus and
# dictionary; then each corpus is merged and minimised (-merge=1 into a fresh
# directory) and fuzz/corpus/<name>/ is replaced by the minimised set. Prints
# per target: executions, coverage (cov/ft from the final stats), corpus size
# before/after, and findings (crash-*/leak-*/timeout-*/oom-* files, kept in
# the work directory, which is then not removed).
#
#   fuzz/campaign.sh [SECONDS]
#   BX_FUZZ_BUILD  a build dir configured with CC=clang -DBX_SANITIZE=ON -DBX_FUZZ=ON
#                  (default: one is built in a temp dir)
#   BX_FUZZ_JOBS   targets run at once (default: nproc)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
seconds=${1:-600}
jobs=${BX_FUZZ_JOBS:-$(nproc)}
work=$(mktemp -d /tmp/beambox-campaign.XXXXXX)

if [ -n "${BX_FUZZ_BUILD:-}" ]; then
	build=$BX_FUZZ_BUILD
else
	build=$work/build
	CC=clang cmake -S . -B "$build" -DBX_SANITIZE=ON -DBX_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
		-DBX_TESTS=OFF -DBX_BENCH=OFF -DBX_EXAMPLES=OFF >/dev/null
fi
names=()
for src in fuzz/*_fuzz.c; do
	names+=("$(basename "$src" .c)")
done
cmake --build "$build" -j"$(nproc)" --target "${names[@]}" >/dev/null

# One target's run: fuzz a copy of its corpus for $seconds, findings into its own dir.
fuzz_one() {
	local name=$1 dir=$work/$1
	local dict=()
	mkdir -p "$dir/corpus" "$dir/findings"
	cp -r "$root/fuzz/corpus/$name/." "$dir/corpus/"
	[ -f "$root/fuzz/$name.dict" ] && dict=(-dict="$root/fuzz/$name.dict")
	(cd "$dir/findings" &&
		"$build/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 \
			-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
			-artifact_prefix="$dir/findings/" "${dict[@]}" "$dir/corpus" \
			>"$dir/fuzz.log" 2>&1) || true
}

echo "campaign: ${#names[@]} targets, ${seconds} s each, $jobs at a time, in $work"
running=0
for name in "${names[@]}"; do
	fuzz_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait

total_findings=0
printf '%-16s %12s %8s %8s %14s %9s\n' target execs cov ft corpus findings
for name in "${names[@]}"; do
	dir=$work/$name
	before=$(find "$root/fuzz/corpus/$name" -type f | wc -l)
	# Merge and minimise: a fresh directory gets the smallest set with the same coverage.
	mkdir -p "$dir/min"
	"$build/fuzz/$name" -merge=1 "$dir/min" "$dir/corpus" >"$dir/merge.log" 2>&1 || {
		echo "$name: merge failed, corpus left as it was (see $dir/merge.log)"
		continue
	}
	after=$(find "$dir/min" -type f | wc -l)
	if [ "$after" -gt 0 ]; then
		find "$root/fuzz/corpus/$name" -type f -delete
		cp "$dir/min/"* "$root/fuzz/corpus/$name/"
	fi
	# -fork=1 prints "#EXECS: cov: N ft: N corp: N ..." as it goes: the last one is final.
	last=$(grep -E '^#[0-9]+:? .*cov: [0-9]+' "$dir/fuzz.log" | tail -n1 || true)
	execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
	cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{print $2}' || true)
	ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{print $2}' || true)
	found=$(find "$dir/findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | wc -l)
	total_findings=$((total_findings + found))
	printf '%-16s %12s %8s %8s %6s -> %-5s %9s\n' "$name" "${execs:-?}" "${cov:-?}" \
		"${ft:-?}" "$before" "$after" "$found"
done
if [ "$total_findings" -gt 0 ]; then
	echo "findings kept in $work/*/findings (logs: $work/*/fuzz.log)"
	exit 1
fi
rm -rf "$work"
echo "campaign: no findings; corpora minimised in fuzz/corpus/"
