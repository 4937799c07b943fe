#!/usr/bin/env bash
# Issue #12's benchmark: beambox next to baselines measured in the same run
# (bench/bench_spawn.c, bench/bench_beam.c, bench/bench_syscall.c), unpinned,
# then the round trips and the stream again with everything on one CPU
# (taskset -c 0). Prints human-readable rows, then, last, one line per ratio:
#
#   ratio NAME VALUE PASS|MISS (target OP T)      or      ratio NAME n/a (why)
#
# VALUE is beambox's median divided by the baseline's (>= 100 samples each,
# interleaved sample by sample). NAME_pinned is the same ratio measured on one
# CPU. Installs bubblewrap when it is absent and this runs as root (as
# tests/install-deps.sh does); a baseline that is absent is skipped and said so.
#
#   bench/run.sh [--quick] [BUILD_DIR]     (default BUILD_DIR: ./build, already built)
#
# --quick: small counts, no installation; the smoke test ctest runs. Its
# numbers mean nothing and nothing is asserted on them.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
if [ "${1:-}" = --quick ]; then
	quick=1
	shift
fi
build=${1:-$src/build}
bench=$build/bench/bench_spawn
for f in "$bench" "$build/bench/bench_beam" "$build/bench/bench_syscall" "$build/beambox"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is missing: build first (cmake -S . -B build && cmake --build build)" >&2
		exit 2
	fi
done

# name, comparison, target: issue #12's table.
targets=(
	"spawn_cold_vs_bwrap <= 0.6"
	"spawn_warm_vs_bwrap <= 0.25"
	"spawn_rate_vs_bwrap >= 3.0"
	"job_rtt_vs_socketpair <= 2.0"
	"job_rtt_fds_vs_socketpair <= 3.0"
	"stream_vs_pipe >= 0.9"
	"seccomp_overhead <= 1.3"
	"pool_scaling >= 1.8"
)

bwrap=$(command -v bwrap || true)
if [ -z "$bwrap" ] && [ "$quick" = 0 ] && [ "$(id -u)" = 0 ]; then
	echo "# installing bubblewrap (apt-get) for the baseline"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			bubblewrap >/dev/null || true
	bwrap=$(command -v bwrap || true)
fi
[ -n "$bwrap" ] || echo "# bubblewrap: absent, its baselines are skipped"

tmp=$(mktemp -d /tmp/beambox-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/ratios"

# Runs a benchmark: its rows now, its ratio lines for the end.
run() {
	local rc=0
	"$@" >"$tmp/out" || rc=$?
	grep -v '^ratio ' "$tmp/out" || true
	grep '^ratio ' "$tmp/out" >>"$tmp/ratios" || true
	if [ "$rc" != 0 ]; then
		echo "run.sh: '$*' failed (exit $rc)" >&2
		exit 1
	fi
}

echo "# beambox benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), uid $(id -u)"
[ "$quick" = 1 ] && echo "# --quick: small counts, the numbers mean nothing"
args=(--bwrap "${bwrap:-/nonexistent/bwrap}" --cli "$build/beambox"
	--policy "$src/policies/untrusted.policy" --syscall-prog "$build/bench/bench_syscall")
[ "$quick" = 1 ] && args+=(--quick)

echo
echo "== beam framing (bench_beam): no target, for reference"
run "$build/bench/bench_beam" "$([ "$quick" = 1 ] && echo 200 || echo 20000)"

echo
echo "=========== unpinned"
run "$bench" "${args[@]}"

if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
	echo
	echo "=========== pinned: everything on CPU 0 (taskset -c 0), workers included"
	run taskset -c 0 "$bench" "${args[@]}" --only rtt,stream --suffix _pinned
else
	echo "# pinned runs skipped: no taskset or a single CPU"
fi

echo
echo "== ratios: beambox / baseline, medians of the same run; targets from issue #12"
for t in "${targets[@]}"; do
	read -r name op goal <<<"$t"
	found=0
	while read -r _ rname value rest; do
		[ "$rname" = "$name" ] || [ "$rname" = "${name}_pinned" ] || continue
		found=1
		if [ "$value" = n/a ]; then
			echo "ratio $rname n/a $rest"
			continue
		fi
		if awk -v v="$value" -v g="$goal" -v op="$op" \
			'BEGIN { exit !((op == "<=") ? (v <= g) : (v >= g)) }'; then
			verdict=PASS
		else
			verdict=MISS
		fi
		echo "ratio $rname $value $verdict (target $op $goal)"
	done <"$tmp/ratios"
	[ "$found" = 1 ] || echo "ratio $name n/a (not measured)"
done
