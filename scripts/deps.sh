#!/bin/sh
# deps.sh — make sure the Debian packages mmoe needs are installed.
#
#   scripts/deps.sh build   libraries and tools to build and run mmoe
#   scripts/deps.sh check   the above plus what the test suite uses
#   scripts/deps.sh bench   the above plus the reference programs of `make bench`
#
# As root, missing packages are installed with apt-get; otherwise the exact
# command is printed and the script exits 1.  Nothing is done when all are there.
set -eu

build="gcc make libc6-dev pkg-config libzstd-dev zstd libmsgpack-dev libopenblas-dev libjansson-dev
libpng-dev libjpeg62-turbo-dev libutf8proc-dev parallel jq gnuplot-nox mandoc"
# openssh-server, openssh-client, rsync and procps: the ssh tests start their own
# sshd on the loopback, and GNU parallel sends files with rsync
check="perl python3 python3-msgpack python3-numpy python3-sklearn python3-torch time
openssh-server openssh-client rsync procps"
bench="hyperfine time"

case "${1:-build}" in
build) want=$build ;;
check) want="$build $check" ;;
bench) want="$build $check $bench" ;;
*) echo "deps.sh: unknown set '$1' (build, check or bench)" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "mmoe needs these Debian packages:$missing" >&2
	echo "install them with:  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages with a service (openssh-server, rsync) must not start it: the tests
# start their own sshd.  policy-rc.d answering 101 is Debian's way to say so to
# invoke-rc.d (a bare container has no init to start it anyway); ours is
# removed afterwards, whatever happens, and an existing one is left alone.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	trap 'rm -f "$policy"' EXIT
	trap 'exit 2' INT TERM HUP
	printf '#!/bin/sh\n# made by mmoe scripts/deps.sh while it installs packages\nexit 101\n' > "$policy"
	chmod 755 "$policy"
fi
apt-get update -qq >&2 || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
