#!/usr/bin/env bash
# Builds beambox and runs the whole test suite (ctest): as the calling user
# and, when that is root, once more as an unprivileged user
# (setpriv --reuid=nobody --regid=nogroup --clear-groups).
#
# The tree is built in a world-readable staging directory, so that `nobody`
# can run it even when the clone sits where it cannot traverse (/root/...).
#
#   BX_CMAKE_ARGS  extra cmake arguments (e.g. -DBX_SANITIZE=ON)
#   BX_SUITE_DIR   where to stage and build (default: a new temp dir, removed at exit)
#   CC             the compiler
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${BX_SUITE_DIR:-}" ]; then
	stage=$BX_SUITE_DIR
	mkdir -p "$stage"
else
	stage=$(mktemp -d /tmp/beambox-suite.XXXXXX)
	trap 'rm -rf "$stage"' EXIT
fi
chmod 755 "$stage"

# Stage the sources (tracked and untracked, not ignored: what a clone plus your edits has).
rm -rf "$stage/src-tree"
mkdir -p "$stage/src-tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && xargs -0 cp --parents -t "$stage/src-tree" 2>/dev/null || true)
else
	cp -a "$src/." "$stage/src-tree/"
fi
chmod -R a+rX "$stage/src-tree"

build=$stage/build
# shellcheck disable=SC2086
cmake -S "$stage/src-tree" -B "$build" ${BX_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"

echo "=== ctest as $(id -un)"
ctest --test-dir "$build" --output-on-failure -j2

if [ "$(id -u)" = 0 ]; then
	chmod -R a+rwX "$build"
	echo "=== ctest as nobody"
	setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env \
		env PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp ${CC:+CC=$CC} \
		ctest --test-dir "$build" --output-on-failure -j2
fi
