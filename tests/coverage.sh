#!/usr/bin/env bash
# Line coverage of the parsing modules (beam, data, remote, policy, CLI
# arguments) from the unit tests plus every fuzz corpus replayed through its
# target: clang source-based coverage (-DBX_COVERAGE=ON), merged with
# llvm-profdata, reported with llvm-cov. Exits non-zero below BX_COVERAGE_MIN
# percent (default 90) of lines over those files.
#
# Workers (re-executed test binaries, confined, with a scrubbed environment)
# write no profile: what they run is not counted here.
#
#   BX_COVERAGE_BUILD  build directory to use (default: a temp dir, removed at exit)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
min=${BX_COVERAGE_MIN:-90}

if [ -n "${BX_COVERAGE_BUILD:-}" ]; then
	build=$BX_COVERAGE_BUILD
else
	build=$(mktemp -d /tmp/beambox-coverage.XXXXXX)
	chmod 755 "$build"
	trap 'rm -rf "$build"' EXIT
fi
llvm_profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
llvm_cov=$(command -v llvm-cov || command -v llvm-cov-14)

CC=clang cmake -S . -B "$build" -DBX_COVERAGE=ON -DBX_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
	-DBX_BENCH=OFF -DBX_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

prof=$build/profiles
rm -rf "$prof"
mkdir -p "$prof"
export LLVM_PROFILE_FILE="$prof/%p-%m.profraw"

echo "--- unit tests"
ctest --test-dir "$build" -j2 -E 'test_install' --output-on-failure >"$build/ctest.log" 2>&1 ||
	echo "(some tests failed; coverage counts what ran: see $build/ctest.log)"

echo "--- fuzz corpora"
objects=()
for src in fuzz/*_fuzz.c; do
	name=$(basename "$src" .c)
	[ -d "fuzz/corpus/$name" ] || continue
	"$build/fuzz/$name" -runs=0 "$root/fuzz/corpus/$name" >"$build/$name.replay.log" 2>&1 ||
		echo "$name: replay failed (see $build/$name.replay.log)"
	objects+=(-object "$build/fuzz/$name")
done

"$llvm_profdata" merge -sparse "$prof"/*.profraw -o "$build/all.profdata"
files=(src/beam.c src/data.c src/remote.c src/policy/*.c src/cli/args.c)
bins=("$build/tests/test_util" "${objects[@]}")
for t in "$build"/tests/test_*; do
	[ -x "$t" ] && [ "$t" != "$build/tests/test_util" ] && bins+=(-object "$t")
done
"$llvm_cov" report "${bins[@]}" -instr-profile="$build/all.profdata" "${files[@]}" |
	tee "$build/report.txt"
total=$(awk '/^TOTAL/ {print $(NF-3)}' "$build/report.txt" | tr -d '%')
echo "line coverage of the parsing modules: ${total}% (minimum ${min}%)"
if awk -v t="$total" -v m="$min" 'BEGIN {exit !(t < m)}'; then
	echo "below ${min}%: uncovered lines with"
	echo "  $llvm_cov show ${bins[*]} -instr-profile=$build/all.profdata -show-line-counts-or-regions FILE"
	exit 1
fi
