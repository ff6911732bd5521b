# SPDX-License-Identifier: Apache-2.0
# Sourced by image/test-image.sh: running the image (systemd-nspawn or a
# chroot), provisioning an instance in it, and the checks against the
# running enclaved. Uses die, step, work, mnt, image, state, etc, uid, gid,
# and sets mode, nspawn_pid, leader, daemon_pid.

readonly IMAGE_PATH=/usr/sbin:/usr/bin:/sbin:/bin

# in_image CMD...: CMD as root inside the running image.
in_image() {
  if [ "$mode" = nspawn ]; then
    nsenter -t "$leader" -m -u -i -n -p -r -w -- /usr/bin/env -i PATH=$IMAGE_PATH "$@"
  else
    chroot "$mnt" /usr/bin/env -i PATH=$IMAGE_PATH "$@"
  fi
}

# The container's PID 1: a systemd that is PID 1 in its own namespace and a
# descendant of our systemd-nspawn.
find_leader() {
  local p q
  for p in $(pgrep -x systemd); do
    grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$p/status" 2>/dev/null || continue
    q=$p
    while [ -n "$q" ] && [ "$q" -gt 1 ]; do
      [ "$q" = "$nspawn_pid" ] && { echo "$p"; return 0; }
      q=$(awk '/^PPid:/ { print $2 }' "/proc/$q/status" 2>/dev/null)
    done
  done
  return 1
}

# The unit's LimitMEMLOCK=64M, or the hard limit when it is lower and we may
# not raise it (no CAP_SYS_RESOURCE here); enclaved needs 1 MiB.
memlock_limit() {
  local want=67108864 hard
  hard=$(ulimit -Hl)
  if [ "$hard" != unlimited ] && [ $((hard * 1024)) -lt $want ]; then
    want=$((hard * 1024))
    step "RLIMIT_MEMLOCK: the hard limit here is $hard KiB, below the unit's 64 MiB; using it" >&2
  fi
  echo "$want"
}

# boot_nspawn: boots the image; 0 once its systemd is up (running or
# degraded), 1 when it cannot boot here (and nothing is left running).
boot_nspawn() {
  if ! command -v systemd-nspawn >/dev/null; then
    step "systemd-nspawn not found (Debian package systemd-container)"
    return 1
  fi
  step "booting the image with systemd-nspawn"
  # -D on the read-only mount, not --image= (which needs udev in /run).
  # CAP_IPC_LOCK: without it nspawn's system call filter refuses mlock
  # (@memlock) to everything in the container, and enclaved refuses to
  # start with keys in swappable memory. The service itself still gets no
  # capability (the unit's empty CapabilityBoundingSet=).
  local memlock
  memlock=$(memlock_limit)
  # No service manager on the host: no scope (--keep-unit), no machined
  # (--register=no), and nspawn's scratch folder /run/systemd/nspawn on a
  # tmpfs of its own mount namespace (it refuses to clean one up on disk).
  unshare --mount --propagation private -- /bin/sh -c \
    'mkdir -p /run/systemd/nspawn && mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn &&
     exec "$@"' sh \
    systemd-nspawn --quiet --register=no --keep-unit --machine=enclave-image-test \
    --directory="$mnt" --read-only --private-users=no \
    --capability=CAP_IPC_LOCK --rlimit=RLIMIT_MEMLOCK="$memlock" \
    --bind="$state:/var/lib/enclave" --bind="$etc:/etc/enclave" \
    --console=pipe --boot </dev/null >"$work/nspawn.log" 2>&1 &
  nspawn_pid=$!
  local s=
  for _ in $(seq 240); do
    if ! kill -0 "$nspawn_pid" 2>/dev/null; then
      step "systemd-nspawn exited: $(tail -n 5 "$work/nspawn.log" | tr '\n' ' ')"
      nspawn_pid=
      return 1
    fi
    if [ -z "$leader" ]; then
      leader=$(find_leader) || leader=
    elif s=$(mode=nspawn in_image systemctl is-system-running 2>/dev/null); [ "$s" = running ] ||
         [ "$s" = degraded ]; then
      step "the container's systemd is up ($s, PID $leader)"
      [ "$s" = running ] || step "failed units: $(mode=nspawn in_image systemctl --failed --no-legend --plain | tr '\n' ' ')"
      return 0
    fi
    sleep 0.5
  done
  step "the container did not come up in 120 s (state '${s:-none}'): $(tail -n 5 "$work/nspawn.log" | tr '\n' ' ')"
  kill -TERM "$nspawn_pid" 2>/dev/null
  wait "$nspawn_pid" 2>/dev/null || true
  nspawn_pid='' leader=''
  return 1
}

# setup_chroot: the API file systems the daemon needs, over the read-only
# image; the instance and /etc/enclave from the work folder.
setup_chroot() {
  step "chroot into the read-only image"
  mount -t proc proc "$mnt/proc"
  make_dev "$mnt"
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$mnt/run"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$mnt/tmp"
  mount --bind "$state" "$mnt/var/lib/enclave"
  mount --bind "$etc" "$mnt/etc/enclave"
}

# set_key FILE SECTION KEY VALUE: KEY = VALUE (TOML literal) in [SECTION].
set_key() {
  local f=$1
  awk -v sec="[$2]" -v key="$3" -v val="$4" '
    /^\[/ { in_sec = ($0 == sec) }
    in_sec && $1 == key && $2 == "=" { print key " = " val; done = 1; next }
    { print }
    END { if (!done) exit 3 }' "$f" >"$f.new" || die "no key $3 in [$2] of $f"
  cat "$f.new" >"$f" && rm -f "$f.new"
}

# A TCP port nothing listens on (the machine is shared).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# provision: docs/packaging.md's steps, inside the image.
provision() {
  in_image p11-kit list-modules >"$work/p11-kit.out" 2>&1 &&
    grep -q '^softhsm2: /usr/lib/softhsm/libsofthsm2.so' "$work/p11-kit.out" ||
    die "p11-kit in the image does not list the module softhsm2: $(head -n 20 "$work/p11-kit.out")"
  step "p11-kit lists the registered module softhsm2"
  step "provisioning: enclavectl init as the user enclave (SoftHSM2 token, keys, demo PKI)"
  in_image runuser -u enclave -- enclavectl init --data-dir /var/lib/enclave >"$work/init.log" 2>&1 ||
    die "enclavectl init failed: $(tail -n 20 "$work/init.log")"
  in_image install -m 0640 -o root -g enclave /var/lib/enclave/enclave.toml /etc/enclave/enclave.toml
  in_image rm /var/lib/enclave/enclave.toml
  in_image install -m 0600 -o root -g root /var/lib/enclave/token.pin /etc/enclave/token.pin
  in_image rm /var/lib/enclave/token.pin
  lea_port=$(free_port)
  ingest_port=$(free_port)
  [ "$lea_port" != "$ingest_port" ] || ingest_port=$((lea_port + 1))
  set_key "$etc/enclave.toml" token pin_source '"credential:token-pin"'
  set_key "$etc/enclave.toml" admin socket '"/run/enclave/admin.sock"'
  set_key "$etc/enclave.toml" listeners.lea port "$lea_port"
  set_key "$etc/enclave.toml" listeners.ingest port "$ingest_port"
  step "instance provisioned; LEA listener 127.0.0.1:$lea_port, ingest 127.0.0.1:$ingest_port"
}

# start_daemon: the unit under nspawn; by hand in the chroot, as the unit
# would (user enclave, umask 0077, LimitMEMLOCK=64M, LimitCORE=0, the PIN as
# the credential token-pin, the runtime folder /run/enclave 0750).
start_daemon() {
  if [ "$mode" = nspawn ]; then
    step "systemctl start enclaved.service (in the container)"
    in_image systemctl start enclaved.service ||
      die "enclaved.service did not start: $(in_image journalctl -u enclaved.service --no-pager -n 30 -o cat)"
    sock=/proc/$leader/root/run/enclave/admin.sock
    return
  fi
  step "enclaved as the user enclave in the chroot"
  local creds=/run/credentials/enclaved.service
  install -d -m 0750 -o "$uid" -g "$gid" "$mnt/run/enclave"
  install -d -m 0755 "$mnt/run/credentials"
  install -d -m 0500 -o "$uid" -g "$gid" "$mnt$creds"
  install -m 0400 -o "$uid" -g "$gid" "$etc/token.pin" "$mnt$creds/token-pin"
  local memlock
  memlock=$(memlock_limit)
  umask 0077
  prlimit --memlock="$memlock:$memlock" --core=0:0 -- \
    chroot --userspec="$uid:$gid" --groups="$gid" "$mnt" /usr/bin/env -i PATH=$IMAGE_PATH \
    CREDENTIALS_DIRECTORY=$creds /usr/bin/enclaved --data-dir /var/lib/enclave \
    --config /etc/enclave/enclave.toml </dev/null >"$work/enclaved.log" 2>&1 &
  daemon_pid=$!
  umask 0022
  sock=$mnt/run/enclave/admin.sock
}

daemon_log() {
  if [ "$mode" = nspawn ]; then
    in_image journalctl -u enclaved.service --no-pager -n 30 -o cat
  else
    tail -n 30 "$work/enclaved.log"
  fi
}

check_ready() {
  local code=
  for _ in $(seq 120); do
    if [ "$mode" = chroot ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
      die "enclaved exited: $(daemon_log)"
    fi
    code=$(curl -s -o "$work/readyz" -w '%{http_code}' --unix-socket "$sock" http://localhost/readyz) || true
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || die "/readyz on the admin socket answered '${code:-nothing}' after 60 s: $(daemon_log)"
  step "/readyz: $code $(cat "$work/readyz")"
}

# tls_get PORT PATH [s_client options]: an HTTP GET over openssl s_client that
# checks the server's certificate against the demo CA and the name localhost.
tls_get() {
  local port=$1 path=$2
  shift 2
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" |
    timeout 30 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
      -verify_hostname localhost -CAfile "$state/pki/demo-ca.pem" -verify_return_error \
      -ign_eof -quiet "$@" 2>&1 || true
}

check_tls() {
  local pki=$state/pki r
  r=$(tls_get "$lea_port" /v1/whoami -cert "$pki/demo-lea.pem" -key "$pki/demo-lea.key")
  grep -q '^HTTP/1.1 200' <<<"$r" && grep -q '"listener":"lea"' <<<"$r" ||
    die "mutual TLS with the demo LEA certificate on the LEA listener failed: $r"
  step "mutual TLS, LEA listener, demo LEA certificate: $(grep -o '{"listener".*' <<<"$r")"
  r=$(tls_get "$ingest_port" /v1/whoami -cert "$pki/demo-collector.pem" -key "$pki/demo-collector.key")
  grep -q '^HTTP/1.1 200' <<<"$r" && grep -q '"listener":"ingest"' <<<"$r" ||
    die "mutual TLS with the demo collector certificate on the ingest listener failed: $r"
  step "mutual TLS, ingest listener, demo collector certificate: 200"
  r=$(tls_get "$lea_port" /v1/whoami)
  ! grep -q '^HTTP/' <<<"$r" || die "the LEA listener answered a client without a certificate: $r"
  grep -qi 'alert' <<<"$r" || die "no TLS alert for a client without a certificate: $r"
  step "no client certificate: refused ($(grep -io '[a-z0-9 ]*alert[a-z0-9 ]*' <<<"$r" | head -n 1))"
  r=$(curl -s --unix-socket "$sock" http://localhost/metrics)
  grep -E '^enclave_tls_handshake_failures_total\{' <<<"$r" | grep 'listener="lea"' |
    grep 'reason="no_client_certificate"' | grep -qE ' [1-9][0-9]*$' ||
    die "the refused handshake is not counted in /metrics: $(grep handshake_failures <<<"$r")"
  step "/metrics counts it: $(grep -E '^enclave_tls_handshake_failures_total\{.*lea.*no_client' <<<"$r")"
}

stop_daemon() {
  if [ "$mode" = nspawn ]; then
    in_image systemctl stop enclaved.service
    local st
    st=$(in_image systemctl show -p Result -p ExecMainStatus --value enclaved.service | tr '\n' ' ')
    [ "$st" = "success 0 " ] || die "enclaved.service did not stop cleanly (Result, ExecMainStatus: $st)"
    step "enclaved.service stopped: result success, exit 0; powering the container off"
    kill -TERM "$nspawn_pid"
    for _ in $(seq 120); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$nspawn_pid" 2>/dev/null && die "the container did not power off in 60 s"
    wait "$nspawn_pid" 2>/dev/null || true
    nspawn_pid=
    return
  fi
  kill -TERM "$daemon_pid"
  for _ in $(seq 120); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$daemon_pid" 2>/dev/null && die "enclaved did not stop within 60 s of SIGTERM"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  [ "$rc" -eq 0 ] || die "enclaved exited $rc on SIGTERM: $(daemon_log)"
  step "enclaved stopped on SIGTERM: exit 0"
}
