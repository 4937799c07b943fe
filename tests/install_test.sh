#!/usr/bin/env bash
# Installs the build tree into a temporary prefix and builds a consumer against
# it twice: with pkg-config and with CMake's find_package. Usage: install_test.sh BUILD_DIR CONSUMER_DIR
set -euo pipefail
build=$1
consumer=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/beambox/beam.h"
test -f "$tmp/prefix/include/beambox/data.h"
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n1)
libdir=${libdir%/}
pcdir=$(dirname "$(find "$tmp/prefix" -name beambox.pc)")

# 1. pkg-config, shared library (the .pc's prefix is the configured one: override it).
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --define-variable=prefix="$tmp/prefix" --cflags beambox)
libs=$(pkg-config --define-variable=prefix="$tmp/prefix" --libs beambox)
# shellcheck disable=SC2086
"${CC:-cc}" ${BX_CONSUMER_FLAGS:-} $cflags "$consumer/consumer.c" -o "$tmp/consumer_pc" $libs
LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc" | grep -qx '000;5:hello,8:5:world,,'
echo "pkg-config consumer: ok"

# 2. find_package, shared and static.
cmake -S "$consumer" -B "$tmp/cbuild" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_COMPILER="${CC:-cc}" -DCMAKE_C_FLAGS="${BX_CONSUMER_FLAGS:-}" >/dev/null
cmake --build "$tmp/cbuild" >/dev/null
LD_LIBRARY_PATH=$libdir "$tmp/cbuild/consumer_shared" >/dev/null
"$tmp/cbuild/consumer_static" >/dev/null
echo "find_package consumer: ok"
echo "1 passed, 0 failed"
