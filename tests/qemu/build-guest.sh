#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-guest.sh OUTDIR: builds the kernel and initramfs of the test guest
# that tests/qemu/lib.sh boots under QEMU (TCG).
#
#   OUTDIR/vmlinuz     Debian's linux-image-cloud-amd64 kernel
#   OUTDIR/initrd.img  gzip'd cpio (newc): busybox-static, the virtio-net
#                      modules (and their dependencies) and /init, a copy
#                      of tests/qemu/guest-init.sh
#   OUTDIR/kernel-version
#
# Cached: does nothing when both files exist and are newer than this script
# and guest-init.sh. Installs what it needs with apt-get when it is missing
# (qemu-system-x86, busybox-static, cpio); downloads the kernel package with
# `apt-get download` (running `apt-get update` only if that fails).
# Concurrent runs on the same OUTDIR are serialised with flock.
#
# Exit status: 0 built or up to date, 77 a package could not be installed
# or downloaded (no mirror), 1 any other failure. Run as root.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/build-guest.sh"
INIT="$HERE/guest-init.sh"

# Modules to load in the guest; their dependencies are added from
# modules.dep, in load order. Modules built into the kernel are skipped.
WANT_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
virtio_pci failover net_failover virtio_net af_packet"

# Busybox applets the guest uses (guest-init.sh), plus a few for debugging.
APPLETS="sh ash cat echo mount umount mkdir mknod ln rm insmod ip ifconfig
route udhcpc nc ping sleep timeout poweroff reboot halt hostname grep sed
head tail tr cut ls ps dmesg sysctl uname kill date true false printf
test [ [[ env awk wc"

die() { echo "build-guest.sh: $*" >&2; exit 1; }
skip() { echo "build-guest.sh: $*" >&2; exit 77; }

apt_install()
{
	export DEBIAN_FRONTEND=noninteractive
	echo "build-guest.sh: installing $*" >&2
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 \
		"$@" >/dev/null 2>&1 && return 0
	apt-get update -qq >/dev/null 2>&1 || true
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 \
		"$@" >/dev/null 2>&1
}

ensure_packages()
{
	local missing=()

	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 \
		|| missing+=(busybox-static)
	command -v cpio >/dev/null || missing+=(cpio)
	[ ${#missing[@]} -eq 0 ] && return 0
	apt_install "${missing[@]}" || skip "apt-get install ${missing[*]} failed"
	# busybox-static replaces the dynamic busybox package, which would not
	# run inside the guest (no libc there).
	ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is not static"
	return 0
}

up_to_date()
{
	local f
	for f in "$OUT/vmlinuz" "$OUT/initrd.img"; do
		[ -s "$f" ] && [ "$f" -nt "$SELF" ] && [ "$f" -nt "$INIT" ] \
			|| return 1
	done
	return 0
}

# Name of the real kernel package behind the linux-image-cloud-amd64
# meta-package (linux-image-6.1.0-NN-cloud-amd64).
kernel_package()
{
	apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '
		$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ \
			&& !found { print $2; found = 1 }' || true
}

download_kernel()
{
	local dir=$1 pkg

	# apt's download sandbox user (_apt) must be able to write there.
	chmod 755 "$dir"
	pkg=$(kernel_package)
	if [ -n "$pkg" ] && (cd "$dir" && apt-get download -qq "$pkg") >/dev/null 2>&1; then
		return 0
	fi
	echo "build-guest.sh: apt-get download failed, running apt-get update" >&2
	apt-get update -qq >/dev/null 2>&1 || true
	pkg=$(kernel_package)
	[ -n "$pkg" ] || skip "no package behind linux-image-cloud-amd64"
	(cd "$dir" && apt-get download -qq "$pkg") >/dev/null 2>&1 \
		|| skip "apt-get download $pkg failed"
}

# True if module $1 is built into the kernel whose modules are in $2.
module_builtin()
{
	[ -f "$2/modules.builtin" ] || return 1
	awk -v n="${1//-/_}" '{ sub(/.*\//, ""); sub(/\.ko$/, ""); gsub(/-/, "_") }
		$0 == n { found = 1 } END { exit !found }' "$2/modules.builtin"
}

# Prints the file of module $1 under $2 (.ko, .ko.xz, .ko.zst, .ko.gz).
module_file()
{
	local name=${1//-/_}

	find "$2" -type f -name '*.ko*' | awk -v n="$name" '{ b = $0;
		sub(/.*\//, "", b); sub(/\.ko(\.(xz|zst|gz))?$/, "", b);
		gsub(/-/, "_", b); if (b == n && !found) { print; found = 1 } }'
}

# need_tool CMD PACKAGE: installs PACKAGE if CMD is missing.
need_tool()
{
	command -v "$1" >/dev/null && return 0
	apt_install "$2" || skip "apt-get install $2 failed"
}

# Writes module file $1 (maybe compressed) uncompressed to $2.
uncompress_module()
{
	case "$1" in
	*.ko.xz)  need_tool xz xz-utils; xz -dc "$1" >"$2" ;;
	*.ko.zst) need_tool zstd zstd; zstd -qdc "$1" >"$2" ;;
	*.ko.gz)  gzip -dc "$1" >"$2" ;;
	*.ko)     cp "$1" "$2" ;;
	*)        die "unknown module format: $1" ;;
	esac
}

# Adds module $1 to $3/lib/modules (uncompressed) and to ORDER, after the
# modules it depends on (the "depends=" field of its .modinfo section).
# $2: the kernel's modules dir.
add_module()
{
	local name=${1//-/_} moddir=$2 root=$3 src dst deps d

	case " $ORDER " in *" $name "*) return 0 ;; esac
	module_builtin "$name" "$moddir" && return 0
	src=$(module_file "$name" "$moddir")
	[ -n "$src" ] || die "module $name not found in $moddir"
	dst="$root/lib/modules/$name.ko"
	uncompress_module "$src" "$dst"
	deps=$(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | tr ',' ' ')
	for d in $deps; do
		add_module "$d" "$moddir" "$root"
	done
	ORDER="$ORDER $name"
}

build_initrd()
{
	local root=$1 moddir=$2 m a

	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	for a in $APPLETS; do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	ln -s ../bin/busybox "$root/sbin/init.busybox"
	install -m 755 "$INIT" "$root/init"
	# The kernel opens /dev/console for /init before /init mounts devtmpfs.
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
	mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true

	ORDER=""
	for m in $WANT_MODULES; do
		add_module "$m" "$moddir" "$root"
	done
	: >"$root/lib/modules/load.list"
	for m in $ORDER; do
		echo "$m.ko" >>"$root/lib/modules/load.list"
	done
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort \
		| cpio --quiet -o -H newc -R 0:0) | gzip -9n >"$3"
}

build()
{
	local tmp deb moddir kver

	tmp=$(mktemp -d /tmp/netd-guest-build.XXXXXX)
	chmod 755 "$tmp"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	mkdir "$tmp/deb" "$tmp/x" "$tmp/root"
	download_kernel "$tmp/deb"
	for deb in "$tmp"/deb/*.deb; do
		[ -e "$deb" ] || die "no .deb downloaded"
		dpkg -x "$deb" "$tmp/x"
	done
	for moddir in "$tmp"/x/lib/modules/* "$tmp"/x/usr/lib/modules/* ""; do
		[ -d "$moddir" ] && break
	done
	[ -n "$moddir" ] || die "no modules in the kernel package"
	kver=$(basename "$moddir")
	[ -f "$tmp/x/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver"

	build_initrd "$tmp/root" "$moddir" "$tmp/initrd.img"
	install -m 644 "$tmp/x/boot/vmlinuz-$kver" "$OUT/.vmlinuz.new"
	install -m 644 "$tmp/initrd.img" "$OUT/.initrd.img.new"
	echo "$kver" >"$OUT/kernel-version"
	chmod 644 "$OUT/kernel-version"
	mv -f "$OUT/.vmlinuz.new" "$OUT/vmlinuz"
	mv -f "$OUT/.initrd.img.new" "$OUT/initrd.img"
	echo "build-guest.sh: built $OUT (kernel $kver, modules:$(
		sed 's/\.ko$//' "$tmp/root/lib/modules/load.list" | tr '\n' ' ' \
		| sed 's/^/ /;s/ $//'))" >&2
}

main()
{
	[ $# -eq 1 ] || { echo "usage: build-guest.sh OUTDIR" >&2; exit 1; }
	[ "$(id -u)" = 0 ] || skip "must run as root (apt-get, mknod)"
	[ -f "$INIT" ] || die "missing $INIT"
	OUT=$1
	mkdir -p "$OUT"
	# Readable by an unprivileged QEMU (QEMU_AS_USER in lib.sh).
	chmod 755 "$OUT"
	OUT=$(cd "$OUT" && pwd)

	exec 9>"$OUT/.lock"
	flock -w 600 9 || die "timed out waiting for the lock on $OUT"
	ensure_packages
	if up_to_date; then
		return 0
	fi
	build
}

main "$@"
