#!/usr/bin/env bash
# Compiles every ```c block of README.md exactly as printed against the
# *installed* library (pkg-config), runs it, and requires exit status 0; a
# block followed by an ```output block must print exactly that.
# Usage: readme_test.sh BUILD_DIR README
#   CC, BX_CONSUMER_FLAGS  compiler and flags (the sanitizer build's)
set -euo pipefail
build=$1
readme=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Workers of a root parent run as another uid: they load the installed library too.
chmod 755 "$tmp"
cc=${CC:-cc}

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pcdir=$(dirname "$(find "$tmp/prefix" -name beambox.pc)")
export PKG_CONFIG_PATH=$pcdir
libdir=$(pkg-config --variable=libdir beambox)
# A relocated install: shipped policies are found through the override.
BEAMBOX_POLICY_DIR=$(pkg-config --variable=policydir beambox)
export BEAMBOX_POLICY_DIR

# block-N.c for each ```c block, block-N.out for an ```output block right after it.
awk -v dir="$tmp" '
	/^```c$/ { n++; file = dir "/block-" n ".c"; inside = 1; last = n; next }
	/^```output$/ && last == n && n > 0 { file = dir "/block-" n ".out"; inside = 1; next }
	/^```/ { if (inside) { inside = 0; close(file) } else { last = -1 } next }
	inside { print > file; next }
	NF { last = -1 }
' "$readme"

# Sanitizer builds: a worker runs under seccomp, where LeakSanitizer cannot
# work (it needs ptrace; see tests_common.c), so it is off in workers only
# (the README's programs start theirs with nothing but ENGINESPAWN=1).
shim=
case "${BX_CONSUMER_FLAGS:-}" in
*-fsanitize=address*)
	cat >"$tmp/asan_worker_shim.c" <<'SHIM'
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Called before main, before libc has set environ: raw system calls only. */
const char *__asan_default_options(void)
{
	static const char marker[] = "ENGINESPAWN=1";
	static char env[4096];
	long fd = syscall(SYS_open, "/proc/self/environ", O_RDONLY | O_CLOEXEC);
	long n = fd < 0 ? -1 : syscall(SYS_read, fd, env, sizeof(env) - 1);

	if (fd >= 0)
		syscall(SYS_close, fd);
	/* environ is NUL-separated: look for the whole entry ENGINESPAWN=1. */
	for (long i = 0; i < n; i++) {
		long k = 0;

		if (i > 0 && env[i - 1] != '\0')
			continue;
		while (marker[k] && i + k < n && env[i + k] == marker[k])
			k++;
		if (!marker[k] && (i + k == n || env[i + k] == '\0'))
			return "detect_leaks=0";
	}
	return "";
}
SHIM
	# Not instrumented itself: it runs before the sanitizers are set up.
	"$cc" -O2 -c "$tmp/asan_worker_shim.c" -o "$tmp/asan_worker_shim.o"
	shim=$tmp/asan_worker_shim.o
	;;
esac

count=0
for src in "$tmp"/block-*.c; do
	test -e "$src" || { echo "FAIL: no C block in $readme" >&2; exit 1; }
	name=$(basename "$src" .c)
	count=$((count + 1))
	# shellcheck disable=SC2046,SC2086
	if ! "$cc" -Wall -Wextra -Werror ${BX_CONSUMER_FLAGS:-} $(pkg-config --cflags beambox) \
		"$src" $shim -o "$tmp/$name" $(pkg-config --libs beambox) -Wl,-rpath,"$libdir" \
		2>"$tmp/$name.cc.log"; then
		echo "FAIL: README $name does not compile as printed:" >&2
		cat "$tmp/$name.cc.log" >&2
		exit 1
	fi
	if ! out=$("$tmp/$name" 2>"$tmp/$name.err"); then
		echo "FAIL: README $name exited non-zero; stdout: $out" >&2
		cat "$tmp/$name.err" >&2
		exit 1
	fi
	if [ -f "$tmp/$name.out" ] && [ "$out" != "$(cat "$tmp/$name.out")" ]; then
		echo "FAIL: README $name printed:" >&2
		echo "$out" >&2
		echo "--- want:" >&2
		cat "$tmp/$name.out" >&2
		exit 1
	fi
	echo "README $name: compiled as printed, ran${out:+: $(head -n1 <<<"$out")}"
done
echo "$count README blocks: ok"
echo "1 passed, 0 failed"
