#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make image` (docs/image.md): the Enclave appliance image, a read-only
# Debian bookworm root file system.
#
#   image/build-image.sh BUILD_DIR OUT_DIR
#
# 1. the .deb: enclaved and enclavectl built in BUILD_DIR, then cpack (as
#    `make package` does, without building the tests);
# 2. debootstrap --variant=minbase bookworm into OUT_DIR/root (a fresh one
#    every run);
# 3. apt installs the .deb with its dependencies, p11-kit, systemd and
#    (unless ENCLAVE_IMAGE_SOFTHSM=0) SoftHSM2's library; the token module
#    is registered with p11-kit; ENCLAVE_IMAGE_OVERLAY (a folder) is copied
#    over the root (an HSM vendor's module);
# 4. the package tools go: apt, debconf, adduser, perl, then dpkg itself,
#    after the manifest is written; docs, man pages, locales, caches, logs;
# 5. mksquashfs (zstd, reproducible, SOURCE_DATE_EPOCH) and sha256sum.
#
# Writes OUT_DIR/enclave-image.squashfs, .squashfs.sha256 and .manifest.
# Needs root, the Debian packages debootstrap and squashfs-tools
# (image/packages.txt), and HTTP access to the archive (ENCLAVE_IMAGE_MIRROR,
# ENCLAVE_IMAGE_SECURITY_MIRROR; default deb.debian.org).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
build_dir=${1:?usage: build-image.sh BUILD_DIR OUT_DIR}
out=${2:?usage: build-image.sh BUILD_DIR OUT_DIR}
suite=bookworm
mirror=${ENCLAVE_IMAGE_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ENCLAVE_IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
softhsm=${ENCLAVE_IMAGE_SOFTHSM:-1}
overlay=${ENCLAVE_IMAGE_OVERLAY:-}
jobs=${JOBS:-2}
image_name=enclave-image.squashfs
started=$(date +%s)

die() { echo "build-image: error: $*" >&2; exit 1; }
step() { echo "build-image: [$(($(date +%s) - started))s] $*"; }

# ---- preconditions: clear errors before anything is touched -------------
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, file ownership): sudo make image"
for tool in debootstrap:debootstrap mksquashfs:squashfs-tools chroot:coreutils \
            sha256sum:coreutils cpack:cmake curl:curl findmnt:util-linux; do
  command -v "${tool%%:*}" >/dev/null ||
    die "${tool%%:*} not found: install the Debian package '${tool#*:}' (image/packages.txt; make deps)"
done
[ -d "$build_dir" ] || die "no build directory $build_dir: run 'make configure' first"
[ "$(dpkg --print-architecture)" = amd64 ] || [ -n "${ENCLAVE_IMAGE_ALLOW_ARCH:-}" ] ||
  die "only amd64 has been tried (set ENCLAVE_IMAGE_ALLOW_ARCH=1 to try $(dpkg --print-architecture))"
arch=$(dpkg --print-architecture)
if [ -n "$overlay" ]; then
  [ -d "$overlay" ] || die "ENCLAVE_IMAGE_OVERLAY=$overlay is not a folder"
  if bad=$(find "$overlay" -perm /022 ! -type l -print -quit) && [ -n "$bad" ]; then
    die "ENCLAVE_IMAGE_OVERLAY: $bad is writable by group or others"
  fi
fi
for url in "$mirror/dists/$suite/InRelease" "$security_mirror/dists/$suite-security/InRelease"; do
  curl -fsS -o /dev/null --max-time 30 "$url" ||
    die "cannot reach $url: the image build needs the Debian archive (set ENCLAVE_IMAGE_MIRROR / ENCLAVE_IMAGE_SECURITY_MIRROR to a reachable mirror)"
done

# Reproducible-ish: every timestamp after SOURCE_DATE_EPOCH is clamped to it
# by mksquashfs; default the last commit's time.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

mkdir -p "$out"
out=$(cd "$out" && pwd)
root=$out/root

# shellcheck source=image/image-lib.sh
. "$here/image-lib.sh"

# ---- mounts inside the root, undone on every exit -----------------------
unmount_all() {
  # deepest first; lazily, so a busy mount cannot leave the next run stuck
  local m
  for m in $(findmnt -rn -o TARGET | awk -v r="$root" '$0 == r || index($0, r "/") == 1' | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}
trap unmount_all EXIT
mount_api() {
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  make_dev "$root"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
}
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"
}

# ---- 1. the .deb ---------------------------------------------------------
step "building enclaved, enclavectl and the .deb in $build_dir"
cmake --build "$build_dir" -j "$jobs" --target enclaved enclavectl
rm -f "$build_dir"/package/enclave_*.deb
(cd "$build_dir" && cpack -G DEB >/dev/null)
debs=("$build_dir"/package/enclave_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || die "cpack made no single enclave_*.deb in $build_dir/package"
deb=${debs[0]}
step "package $(basename "$deb")"

# ---- 2. a fresh bookworm minbase ------------------------------------------
unmount_all
rm -rf "${root:?}" "${out:?}/$image_name" "$out/$image_name.sha256" "$out/enclave-image.manifest"
mkdir -p "$out/cache"
step "debootstrap --variant=minbase $suite ($mirror)"
debootstrap --variant=minbase --arch="$arch" --cache-dir="$out/cache" "$suite" "$root" "$mirror" \
  >"$out/debootstrap.log" 2>&1 ||
  die "debootstrap failed (last lines below; whole log $out/debootstrap.log)
$(tail -n 15 "$out/debootstrap.log")"

# ---- 3. the packages --------------------------------------------------------
mount_api
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
cat >"$root/etc/apt/apt.conf.d/90enclave-image" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
# No service starts inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/enclave.deb"
chmod 0644 "$root/tmp/enclave.deb"
extra=(p11-kit systemd systemd-sysv)
[ "$softhsm" = 0 ] || extra+=(libsofthsm2)
step "apt: updates, then $(basename "$deb") ${extra[*]}"
{
  in_root apt-get update &&
  in_root apt-get -y dist-upgrade &&
  in_root apt-get -y install /tmp/enclave.deb "${extra[@]}"
} >"$out/apt.log" 2>&1 ||
  die "apt failed (last lines below; whole log $out/apt.log)
$(tail -n 15 "$out/apt.log")"
rm -f "$root/tmp/enclave.deb"

# The token module, registered with p11-kit; nothing from a user's home.
install -d -m 0755 "$root/etc/pkcs11/modules"
install -m 0644 "$here/pkcs11/pkcs11.conf" "$root/etc/pkcs11/pkcs11.conf"
if [ "$softhsm" != 0 ]; then
  install -m 0644 "$here/pkcs11/softhsm2.module" "$root/etc/pkcs11/modules/softhsm2.module"
fi
if [ -n "$overlay" ]; then
  step "overlay $overlay"
  cp -a --no-preserve=ownership "$overlay/." "$root/"
fi
# The appliance starts enclaved at boot once provisioned (the unit's
# ConditionPathExists=/etc/enclave/enclave.toml); a fixed host name.
in_root systemctl enable enclaved.service >/dev/null 2>&1 ||
  die "systemctl enable enclaved.service failed in the image"
echo enclave >"$root/etc/hostname"

# ---- 4. what must not stay ---------------------------------------------------
strip_packages "$root" "$out/enclave-image.manifest" "$deb" "$mirror" "$security_mirror"
step "$(grep -vc '^#' "$out/enclave-image.manifest") packages in the manifest"
unmount_all
clean_files "$root"
check_root "$root"

# ---- 5. the read-only image ----------------------------------------------------
step "mksquashfs (zstd)"
mksquashfs "$root" "$out/$image_name.tmp" -noappend -comp zstd -no-exports \
  -processors "$jobs" -no-progress >"$out/mksquashfs.log" 2>&1 ||
  die "mksquashfs failed: $(tail -n 5 "$out/mksquashfs.log")"
mv "$out/$image_name.tmp" "$out/$image_name"
(cd "$out" && sha256sum "$image_name" >"$image_name.sha256")
step "done: $out/$image_name ($(du -h --apparent-size "$out/$image_name" | cut -f1)," \
  "sha256 $(cut -d' ' -f1 "$out/$image_name.sha256"))"
