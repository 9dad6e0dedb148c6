#!/bin/sh
# Install, from Debian's packages and only when missing, everything that
# building, running and testing bockerfs needs.
set -eu
pkgs="make gcc pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev libjansson-dev libarchive-dev
libbtrfsutil-dev btrfs-progs libmnl-dev libssl-dev libcgroup-dev libnftables-dev libseccomp-dev busybox-static
docker-registry skopeo umoci inotify-tools bats python3 python3-pytest curl jq apache2-utils
util-linux iproute2 nftables procps psmisc python3-jwt python3-cryptography zstd openssl"
# `deps.sh bench` adds the peers that `make bench` compares against.
[ "${1:-}" = bench ] && pkgs="$pkgs crun runc podman hyperfine bc debootstrap"
# `deps.sh fuzz` adds clang's libFuzzer and sanitizer runtimes for `make fuzz` (llvm-14 has
# the symbolizer that names functions in crash reports).
[ "${1:-}" = fuzz ] && pkgs="$pkgs clang-14 libclang-rt-14-dev llvm-14"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
