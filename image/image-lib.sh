# SPDX-License-Identifier: Apache-2.0
# Sourced by image/build-image.sh: what leaves the image, the manifest, and
# the checks of the finished root (docs/image.md). Needs die() and in_root().

# Installed only to install things: the package manager and its helpers.
# Purged with dpkg (their maintainer scripts run), perl last since the
# others' scripts need it; dpkg itself goes after the manifest.
# e2fsprogs: the image mounts no ext file system of its own.
IMAGE_PURGE=(apt libapt-pkg6.0 gpgv debian-archive-keyring adduser debconf
             init-system-helpers e2fsprogs logsave)
IMAGE_PURGE_LAST=(perl-base)

# make_dev ROOT: a tmpfs /dev with the few nodes programs expect (not a bind
# of the host's /dev, which an rm -rf of a left-over root would empty).
make_dev() {
  local n name maj min
  mount -t tmpfs -o mode=0755,nosuid tmpfs "$1/dev"
  for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name maj min <<<"$n"
    mknod -m 0666 "$1/dev/$name" c "$maj" "$min"
  done
  ln -s /proc/self/fd "$1/dev/fd"
  ln -s /proc/self/fd/0 "$1/dev/stdin"
  ln -s /proc/self/fd/1 "$1/dev/stdout"
  ln -s /proc/self/fd/2 "$1/dev/stderr"
  mkdir -m 1777 "$1/dev/shm"
}

installed() { in_root dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

# purge_now MANIFEST PACKAGE...: dpkg --purge those installed; appends to
# removed; 1 when none was installed.
purge_now() {
  local manifest=$1 p now=()
  shift
  for p in "$@"; do installed "$p" && now+=("$p"); done
  [ ${#now[@]} -eq 0 ] && return 1
  in_root dpkg --purge --force-remove-essential --force-depends "${now[@]}" \
    >>"$(dirname "$manifest")/apt.log" 2>&1 ||
    die "dpkg --purge ${now[*]} failed (see $(dirname "$manifest")/apt.log)"
  removed+=("${now[@]}")
}

# Library packages (lib*, not Essential) that no installed package depends on: the
# ones only apt or e2fsprogs needed. The image's own picks stay.
orphan_libraries() {
  local keep='^(libsofthsm2|libp11-kit0)$'
  comm -23 \
    <(in_root dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 != "yes" { print $1 }' |
      grep '^lib' | grep -Ev "$keep" | LC_ALL=C sort -u) \
    <(in_root dpkg-query -W -f='${Depends},${Pre-Depends}\n' | tr ',|' '\n\n' |
      sed -e 's/(.*//' -e 's/:any//' -e 's/[[:space:]]//g' | grep -v '^$' | LC_ALL=C sort -u)
}

# strip_packages ROOT MANIFEST DEB MIRROR SECURITY_MIRROR
strip_packages() {
  local root=$1 manifest=$2 deb=$3 mirror=$4 security_mirror=$5 removed=()
  purge_now "$manifest" "${IMAGE_PURGE[@]}" || true
  local orphans
  while orphans=$(orphan_libraries) && [ -n "$orphans" ]; do
    # shellcheck disable=SC2086 # one package name per word
    purge_now "$manifest" $orphans || break
  done
  purge_now "$manifest" "${IMAGE_PURGE_LAST[@]}" || true
  # The manifest: every package left, before dpkg (the one remaining
  # package tool) removes itself.
  {
    echo "# Enclave appliance image (docs/image.md): every Debian package in it."
    echo "# package<TAB>version<TAB>architecture, sorted; Debian $suite from"
    echo "#   $mirror $suite $suite-updates, $security_mirror $suite-security"
    echo "# enclave package: $(basename "$deb") sha256 $(sha256sum "$deb" | cut -d' ' -f1)"
    echo "# SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
    echo "# purged after installation: ${removed[*]} dpkg (dpkg: its programs; /var/lib/dpkg/status stays, without it)"
    in_root dpkg-query -W -f='${Package}\t${Version}\t${Architecture}\n' | grep -v '^dpkg	' | LC_ALL=C sort
  } >"$manifest.tmp"
  mv "$manifest.tmp" "$manifest"
  # dpkg: its files (not its folders, which others share), then its
  # database except the package list itself, which scanners read.
  local f
  while IFS= read -r f; do
    # not a folder, nor a link to one (/sbin -> usr/sbin on merged /usr)
    if [ -n "$f" ] && [ -f "$root$f" ] && [ ! -d "$root$f" ]; then rm -f "$root$f"; fi
  done <"$root/var/lib/dpkg/info/dpkg.list"
  awk 'BEGIN { RS = ""; ORS = "\n\n" } $0 !~ /^Package: dpkg\n/' \
    "$root/var/lib/dpkg/status" >"$root/var/lib/dpkg/status.new"
  find "$root/var/lib/dpkg" -mindepth 1 -maxdepth 1 ! -name status.new -exec rm -rf {} +
  mv "$root/var/lib/dpkg/status.new" "$root/var/lib/dpkg/status"
  chmod 0644 "$root/var/lib/dpkg/status"
}

# clean_files ROOT: documentation (but each package's copyright, and the
# project's own pages), man pages, locales, caches, logs, build leftovers;
# identity that must be made on first boot, not at build time.
clean_files() {
  local root=$1
  find "$root/usr/share/doc" -mindepth 1 -path "$root/usr/share/doc/enclave" -prune -o \
    \( -type f -o -type l \) ! -name copyright -print0 | xargs -0r rm -f
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,info,groff,lintian,linda,bug,locale,bash-completion,zsh}
  rm -rf "$root"/etc/apt "$root"/var/lib/apt "$root"/var/cache/* "$root"/var/lib/systemd/deb-systemd-*
  find "$root/var/log" -type f -delete
  rm -rf "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.[!.]* "$root"/usr/sbin/policy-rc.d
  rm -f "$root"/etc/{passwd,group,shadow,gshadow,subuid,subgid}- "$root"/etc/.pwd.lock
  # The password files' "last changed" day: the day of SOURCE_DATE_EPOCH,
  # not the build's (root and enclave get today's from debootstrap, adduser).
  awk -F: -v OFS=: -v day=$((SOURCE_DATE_EPOCH / 86400)) \
    '$3 != "" && $3 > day { $3 = day } { print }' "$root/etc/shadow" >"$root/etc/shadow.new"
  chmod --reference="$root/etc/shadow" "$root/etc/shadow.new"
  chown --reference="$root/etc/shadow" "$root/etc/shadow.new"
  mv "$root/etc/shadow.new" "$root/etc/shadow"
  rm -f "$root"/var/lib/dbus/machine-id
  : >"$root/etc/machine-id"
  # the host's resolver, copied in by debootstrap: a site setting
  : >"$root/etc/resolv.conf"
  # No setuid or setgid program: nobody but root logs in, and the service
  # runs with NoNewPrivileges.
  find "$root" -xdev -type f -perm /6000 -print0 | xargs -0r chmod ug-s
  chroot "$root" /sbin/ldconfig
  rm -f "$root"/var/cache/ldconfig/aux-cache
}

# check_root ROOT: what the issue asks of the image, checked on the result.
check_root() {
  local root=$1 t line shell
  for t in apt apt-get dpkg dpkg-deb dpkg-query debconf perl gcc cc c++ g++ clang as ld \
           make python3 tcc; do
    for d in usr/bin usr/sbin bin sbin usr/local/bin; do
      [ -e "$root/$d/$t" ] && die "the image still holds /$d/$t"
    done
  done
  line=$(grep '^enclave:' "$root/etc/passwd") || die "the image has no user enclave"
  shell=${line##*:}
  [ "$shell" = /usr/sbin/nologin ] || die "the user enclave has the shell $shell, not /usr/sbin/nologin"
  [ -d "$root/var/lib/enclave" ] || die "the image has no /var/lib/enclave"
  [ -d "$root/etc/enclave" ] || die "the image has no /etc/enclave"
  local f missing modules
  # every module registered with p11-kit (absolute paths: ours and a vendor's)
  modules=$(cat "$root"/etc/pkcs11/modules/*.module 2>/dev/null |
            sed -n 's/^module:[[:space:]]*\(\/[^[:space:]]*\).*/\1/p')
  [ -n "$modules" ] || die "no PKCS#11 module is registered in /etc/pkcs11/modules"
  for f in usr/bin/enclaved usr/bin/enclavectl lib/systemd/systemd usr/bin/p11-kit \
           $(sed 's|^/||' <<<"$modules"); do
    [ -e "$root/$f" ] || die "the image lacks /$f"
    missing=$(chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "/$f" 2>&1 | grep 'not found' || true)
    [ -z "$missing" ] || die "/$f: libraries missing from the image: $missing"
  done
  if f=$(find "$root" -xdev \( -type f -o -type d \) -perm -0002 ! -perm -1000 -print -quit) &&
     [ -n "$f" ]; then
    die "world-writable without the sticky bit: ${f#"$root"}"
  fi
}
