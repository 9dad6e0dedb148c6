#!/bin/sh
# Install, from Debian's packages and only when missing, what a part of
# bockerfs needs.  One list per part, so that a build never waits for the
# test tools:
#   deps.sh build   compile and run bockerfs (make, make start, make check)
#   deps.sh test    build + everything the test suite runs (make test)
#   deps.sh bench   test + the peers `make bench` compares against
#   deps.sh fuzz    build + clang's libFuzzer and sanitizer runtimes
#   deps.sh vm      test + what the cgroup v2 lane needs (make test-v2, tests/vm/)
#   deps.sh --list PART   print the packages of PART, install nothing
# scripts/packaged-path.sh runs the test suite with only these packages'
# programs on its PATH, so that a program the suite uses but no list names
# fails here as it would on a fresh machine (it once did: nft).
set -eu
# perl has prove, which runs the unit tests (make check); a minimal system has only perl-base.
build="make perl gcc pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev libjansson-dev libarchive-dev zlib1g-dev libisal-dev
libbtrfsutil-dev btrfs-progs libmnl-dev libssl-dev libcgroup-dev libnftables-dev libseccomp-dev
busybox-static lowdown musl-tools"
test="$build docker-registry skopeo umoci inotify-tools bats python3 python3-pytest curl jq
apache2-utils util-linux iproute2 nftables procps psmisc python3-jwt python3-cryptography zstd
openssl clang-format man-db systemd shellcheck tmux podman runc containerd containernetworking-plugins
iptables docker.io python3-grpcio python3-grpc-tools"
bench="$test crun hyperfine bc debootstrap"
# The guest's kernel itself is downloaded by tests/vm/run-v2, never installed.
vm="$test qemu-system-x86 busybox-static kmod e2fsprogs"
# llvm-14 has the symbolizer that names functions in crash reports.
fuzz="$build clang-14 libclang-rt-14-dev llvm-14"

list=false
if [ "${1:-}" = --list ]; then
	list=true
	shift
fi
case "${1:-build}" in
build) pkgs=$build ;;
test) pkgs=$test ;;
bench) pkgs=$bench ;;
fuzz) pkgs=$fuzz ;;
vm) pkgs=$vm ;;
*)
	echo "usage: deps.sh [--list] [build|test|bench|fuzz|vm]" >&2
	exit 2
	;;
esac
if $list; then
	# shellcheck disable=SC2086
	printf '%s\n' $pkgs
	exit 0
fi
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
# containerd and docker.io start their daemons when installed; the tests run
# private ones of their own, so nothing is started at install (policy-rc.d).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
