#!/usr/bin/env bash
# The library as an application sees it: installed, then used from outside the tree.
# Usage: install_test.sh BUILD_DIR CONSUMER_DIR
#   CC, BX_CONSUMER_FLAGS  compiler and flags for the consumer (the sanitizer build's)
#   BX_FRESH_CMAKE_ARGS    cmake arguments for the second, fresh build (see 2.)
#
# 1. BUILD_DIR installed with `cmake --install --prefix` into a temp dir (not the
#    prefix it was configured for), then moved: beambox.pc and the CMake package
#    must follow it (relocatable), and the shipped policies are found through
#    BEAMBOX_POLICY_DIR = pkg-config's policydir.
# 2. A fresh build configured with a non-default CMAKE_INSTALL_PREFIX (a temp dir)
#    and installed there: the library and the CLI find the shipped policies by
#    name in that prefix with no help.
# In both, a consumer built with pkg-config and with find_package (shared and static)
# loads a policy by file and by name and runs a job in a worker under each; the
# installed greet.policy is edited first (its hostname) to prove which copy was used.
set -euo pipefail
build=$1
consumer=$2
src=$(cd "$consumer/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Workers of a root parent run as another uid: they must be able to load the
# installed shared library, as from any real prefix.
chmod 755 "$tmp"
cc=${CC:-cc}
flags=${BX_CONSUMER_FLAGS:-}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Marks PREFIX's installed greet.policy, so that a worker under it says where it came from.
mark_installed() {
	local p=$1/share/beambox/policies/greet.policy
	test -f "$p" || fail "$p was not installed"
	test -f "$1/share/beambox/policies/common/worker.policy" || fail "common/ was not installed"
	sed -i 's/^hostname = greet$/hostname = installed-greet/' "$p"
	grep -q '^hostname = installed-greet$' "$p" || fail "could not mark $p"
}

# Runs a consumer binary with the policy FILE and the NAME greet; checks its output.
check_consumer() {
	local what=$1 prefix=$2
	shift 2
	local out
	out=$("$@" "$prefix/share/beambox/policies/default.policy" greet) ||
		fail "$what: exit $? (output: $out)"
	grep -qx '000;5:hello,8:5:world,,' <<<"$out" || fail "$what: codec line missing: $out"
	grep -qx 'file default: hello from beambox' <<<"$out" ||
		fail "$what: no job under the policy file: $out"
	grep -qx 'name greet: hello from installed-greet' <<<"$out" ||
		fail "$what: greet was not the installed copy: $out"
	echo "$what: ok"
}

# Builds the consumer against PREFIX with pkg-config and with find_package, runs all three.
consumers() {
	local prefix=$1 tag=$2
	local libdir pcdir cflags libs
	libdir=$(dirname "$(find "$prefix" -name 'libbeambox.so' | head -n1)")
	pcdir=$(dirname "$(find "$prefix" -name beambox.pc)")
	cflags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags beambox)
	libs=$(PKG_CONFIG_PATH=$pcdir pkg-config --libs beambox)
	case "$cflags" in
	*"$prefix"/*) ;;
	*) fail "$tag: pkg-config --cflags does not point into $prefix: $cflags" ;;
	esac
	# A worker starts with a scrubbed environment (no LD_LIBRARY_PATH): it finds the
	# shared library through the program's rpath.
	# shellcheck disable=SC2086
	"$cc" $flags $cflags "$consumer/consumer.c" -o "$tmp/consumer_pc_$tag" $libs \
		-Wl,-rpath,"$libdir"
	check_consumer "$tag pkg-config (shared)" "$prefix" "$tmp/consumer_pc_$tag"
	cmake -S "$consumer" -B "$tmp/cbuild_$tag" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" >/dev/null
	cmake --build "$tmp/cbuild_$tag" >/dev/null
	grep -q "beambox_POLICY_DIR=$prefix/share/beambox/policies" \
		"$tmp/cbuild_$tag/policy_dir.txt" || fail "$tag: find_package's beambox_POLICY_DIR"
	check_consumer "$tag find_package (shared)" "$prefix" "$tmp/cbuild_$tag/consumer_shared"
	check_consumer "$tag find_package (static)" "$prefix" "$tmp/cbuild_$tag/consumer_static"
}

# ---------------------------------------------------------------- 1. relocated
cmake --install "$build" --prefix "$tmp/first" >/dev/null
for h in beam data engine spawn exec policy remote common; do
	test -f "$tmp/first/include/beambox/$h.h" || fail "include/beambox/$h.h not installed"
done
mv "$tmp/first" "$tmp/moved"
mark_installed "$tmp/moved"
pcdir=$(dirname "$(find "$tmp/moved" -name beambox.pc)")
policydir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=policydir beambox)
test "$(cd "$policydir" && pwd)" = "$tmp/moved/share/beambox/policies" ||
	fail "pkg-config policydir is $policydir"
BEAMBOX_POLICY_DIR=$policydir consumers "$tmp/moved" moved
# The override is the only place looked at when set.
mkdir "$tmp/empty"
if out=$(BEAMBOX_POLICY_DIR=$tmp/empty "$tmp/moved/bin/beambox" policy check greet 2>&1); then
	fail "policy check greet succeeded with an empty BEAMBOX_POLICY_DIR: $out"
fi
grep -q "no policy 'greet' in BEAMBOX_POLICY_DIR=$tmp/empty" <<<"$out" ||
	fail "unexpected message: $out"
echo "BEAMBOX_POLICY_DIR override: ok"

# ---------------------------------------------------------------- 2. fresh, own prefix
prefix=$tmp/prefix
# shellcheck disable=SC2086
cmake -S "$src" -B "$tmp/fresh" -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_C_COMPILER="$cc" \
	-DBX_TESTS=OFF -DBX_BENCH=OFF -DBX_EXAMPLES=OFF ${BX_FRESH_CMAKE_ARGS:-} >/dev/null
cmake --build "$tmp/fresh" -j2 >/dev/null
cmake --install "$tmp/fresh" >/dev/null
mark_installed "$prefix"
unset BEAMBOX_POLICY_DIR
consumers "$prefix" prefix
# The CLI finds names in its own prefix too: check, show and exec.
"$prefix/bin/beambox" policy check greet untrusted default >/dev/null || fail "policy check NAME"
out=$("$prefix/bin/beambox" policy show greet) || fail "policy show greet"
grep -qx 'hostname = installed-greet' <<<"$out" ||
	fail "policy show greet did not read the installed copy"
out=$("$prefix/bin/beambox" exec --policy untrusted -- /bin/sh -c 'echo confined $$') ||
	fail "exec --policy untrusted: $out"
test "$out" = "confined 2" || fail "exec --policy untrusted printed: $out"
echo "CLI by name in its own prefix: ok"
echo "1 passed, 0 failed"
