#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make image-test` (docs/image.md): the image `make image` wrote, run.
#
#   image/test-image.sh OUT_DIR
#
# Checks the image's hash and what it must not hold, then boots it with
# systemd-nspawn (the unit enclaved.service starts the daemon) or, when
# nspawn cannot boot it here, runs enclaved chrooted in the mounted image
# the way the unit would (user enclave, the PIN as a credential, 64 MiB
# lockable, no core). In both, an instance is provisioned inside the image
# as docs/packaging.md says (enclavectl init as the user enclave, the
# configuration and PIN moved to /etc/enclave), then: /readyz on the admin
# socket is 200, a mutual-TLS handshake with the demo LEA certificate gets
# an answer from the LEA listener (and the demo collector's from ingest),
# one without a client certificate is refused and counted, and enclaved
# stops cleanly. Mounts and processes are undone on every exit.
#
# ENCLAVE_IMAGE_TEST_MODE=auto (default) | nspawn | chroot.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: test-image.sh OUT_DIR}
mode=${ENCLAVE_IMAGE_TEST_MODE:-auto}
image=$out/enclave-image.squashfs
started=$(date +%s)
work='' nspawn_pid='' leader='' daemon_pid='' mnt=''

die() { echo "image-test: FAIL: $*" >&2; exit 1; }
step() { echo "image-test: [$(($(date +%s) - started))s] $*"; }

[ "$(id -u)" -eq 0 ] || die "must run as root (mounts, chroot, systemd-nspawn): sudo make image-test"
for tool in openssl:openssl curl:curl unsquashfs:squashfs-tools nsenter:util-linux \
            prlimit:util-linux findmnt:util-linux sha256sum:coreutils; do
  command -v "${tool%%:*}" >/dev/null ||
    die "${tool%%:*} not found: install the Debian package '${tool#*:}' (image/packages.txt; make deps)"
done
[ -f "$image" ] || die "no image $image: run 'make image' first"
case $mode in auto | nspawn | chroot) ;; *) die "ENCLAVE_IMAGE_TEST_MODE=$mode: auto, nspawn or chroot" ;; esac

# ---- cleanup: processes first, then mounts; the work folder only when
# nothing is mounted under it any more ---------------------------------------
mounts_under() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1 || $0 == r' | sort -r; }
cleanup() {
  local rc=$? m
  set +e
  [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid"
    for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$nspawn_pid" 2>/dev/null
  fi
  wait 2>/dev/null
  if [ -n "$work" ]; then
    for m in $(mounts_under "$work"); do umount "$m" 2>/dev/null || umount -l "$m"; done
    if [ -n "$(mounts_under "$work")" ]; then
      echo "image-test: still mounted under $work, left in place:" >&2
      mounts_under "$work" >&2
    else
      rm -rf "$work"
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d /tmp/enclave-image-test.XXXXXX)
mnt=$work/image
state=$work/state    # the container's /var/lib/enclave
etc=$work/etc        # the container's /etc/enclave
mkdir -p "$mnt" "$state" "$etc"

# ---- the file itself ------------------------------------------------------
step "sha256 of $image"
(cd "$out" && sha256sum --quiet -c enclave-image.squashfs.sha256) ||
  die "$image does not match enclave-image.squashfs.sha256"
if ! mount -t squashfs -o loop,ro "$image" "$mnt" 2>"$work/mount.err"; then
  step "no loop mount here ($(cat "$work/mount.err")): unsquashfs, then a read-only bind"
  unsquashfs -q -d "$work/unpacked" "$image" >/dev/null
  mount --bind "$work/unpacked" "$mnt" && mount -o remount,bind,ro "$mnt"
fi
# What the issue forbids, on the image as built.
softhsm=1
in_root() { chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# shellcheck source=image/image-lib.sh
. "$here/image-lib.sh"
check_root "$mnt"
touch "$mnt/usr/bin/x" 2>/dev/null && die "the image is writable"
for p in enclave p11-kit systemd libsofthsm2; do
  grep -q "^$p	" "$out/enclave-image.manifest" || die "the manifest lacks $p"
done
# (gcc-12-base is libgcc's copyright folder, not a compiler)
! grep -qE '^(apt|dpkg|perl|perl-base|gcc|gcc-[0-9]+|g\+\+(-[0-9]+)?|cpp(-[0-9]+)?|clang(-[0-9]+)?|binutils)	' \
  "$out/enclave-image.manifest" ||
  die "the manifest lists a package tool or compiler"
uid=$(awk -F: '$1 == "enclave" { print $3 }' "$mnt/etc/passwd")
gid=$(awk -F: '$1 == "enclave" { print $4 }' "$mnt/etc/passwd")
step "image ok: read-only, no package tool or compiler, enclave ($uid:$gid) has no shell"
install -d -m 0700 -o "$uid" -g "$gid" "$state"
install -d -m 0750 -o 0 -g "$gid" "$etc"

# ---- two ways to run it ---------------------------------------------------------
# shellcheck source=image/test-image-run.sh
. "$here/test-image-run.sh"

if [ "$mode" != chroot ]; then
  if boot_nspawn; then
    mode=nspawn
  elif [ "$mode" = nspawn ]; then
    die "systemd-nspawn could not boot the image (log: $work/nspawn.log)"
  else
    step "systemd-nspawn cannot boot the image here; falling back to chroot"
    mode=chroot
  fi
fi
[ "$mode" = chroot ] && setup_chroot

provision
start_daemon
check_ready
check_tls
stop_daemon
step "PASS ($mode): image $(cut -c1-16 "$image.sha256")..., /readyz 200, mutual TLS ok, no-certificate refused, clean stop"
