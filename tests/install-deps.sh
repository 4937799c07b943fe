#!/usr/bin/env bash
# Installs what beambox needs to build and test, from Debian's packages.
# Idempotent and non-interactive; run as root (or it uses sudo when there).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git util-linux
	libseccomp-dev libcap-ng-dev libcmocka-dev
	clang llvm libclang-rt-14-dev bubblewrap
	cppcheck clang-tidy valgrind
	libjson-c-dev libpng-dev zlib1g-dev help2man
	libdrm-dev)
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "dependencies: ok"
