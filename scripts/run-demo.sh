#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: provisions DATA_DIR on first use, starts enclave-lea-sim (the
# demo LEA, with init's demo-lea-server identity) and enclaved, and on the
# first run shows a delivery: an endpoint for the simulator, a demo task, one
# item from the demo collector, delivered to the simulator over mutual TLS.
# enclaved stays in the foreground; Ctrl-C stops both.
set -euo pipefail

BUILD_DIR=${1:?usage: run-demo.sh BUILD_DIR DATA_DIR}
DATA_DIR=${2:?usage: run-demo.sh BUILD_DIR DATA_DIR}
CTL="$BUILD_DIR/appliance/enclavectl"
SIM="$BUILD_DIR/simulator/enclave-lea-sim"
PKI="$DATA_DIR/pki"
SIM_PORT=${SIM_PORT:-7443}

if [ ! -f "$DATA_DIR/enclave.toml" ]; then
  echo "make run: provisioning a demo instance in $DATA_DIR"
  "$CTL" init --data-dir "$DATA_DIR"
  # The demo has one user, so no second officer could approve the endpoint
  # below: two-person control (on by default) is switched off for this demo
  # instance only (docs/security-officer-guide.md, "Two-person control").
  sed -i '/^\[admin\.two_person\]$/,/^\[/ s/^enabled = true$/enabled = false/' "$DATA_DIR/enclave.toml"
  echo "make run: two-person control is off in this demo instance (one demo user)"
fi

mkdir -p "$DATA_DIR/lea-sim"
"$SIM" --listen "127.0.0.1:$SIM_PORT" --cert "$PKI/demo-lea-server.pem" \
  --key "$PKI/demo-lea-server.key" --ca "$PKI/demo-ca.pem" --store "$DATA_DIR/lea-sim" \
  >"$DATA_DIR/lea-sim/sim.log" 2>&1 &
SIM_PID=$!
"$BUILD_DIR/appliance/enclaved" --data-dir "$DATA_DIR" &
DAEMON_PID=$!
stop() {
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  kill -TERM "$SIM_PID" 2>/dev/null || true
  wait "$SIM_PID" 2>/dev/null || true
}
trap stop INT TERM

for _ in $(seq 1 100); do
  "$CTL" --data-dir "$DATA_DIR" status >/dev/null 2>&1 && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { echo "enclaved exited"; stop; exit 1; }
  sleep 0.2
done

LEA_SUBJECT=$(openssl x509 -in "$PKI/demo-lea.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
if ! "$CTL" --data-dir "$DATA_DIR" endpoint show demo-lea >/dev/null 2>&1; then
  echo "make run: endpoint demo-lea -> enclave-lea-sim on 127.0.0.1:$SIM_PORT"
  "$CTL" --data-dir "$DATA_DIR" endpoint add demo-lea \
    --url "https://127.0.0.1:$SIM_PORT/hi1/delivery" --ca "$PKI/demo-ca.pem" \
    --binary-url-scheme "https://127.0.0.1:$SIM_PORT/binaryData/{id}/" \
    --client-subject "$LEA_SUBJECT" >/dev/null
fi
if ! "$CTL" --data-dir "$DATA_DIR" task show LIID-DEMO-1 >/dev/null 2>&1; then
  # The D.4 example of docs/tasks.md: sha256(salt || value).
  END=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
  START=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
  "$CTL" --data-dir "$DATA_DIR" task create --file - >/dev/null <<EOF
{"reference":"LIID-DEMO-1","kind":"LI","start":"$START","end":"$END","endpoint":"demo-lea",
 "fields":[{"formatName":"InternationalE164","value":"442079460223",
 "salt":"8f1c2a9b3d4e5f60718293a4b5c6d7e8",
 "hash":"aa317b32398ca1604ab7aedc29c1564f86fa23156e12aa8b17b6be8395a78bb3","algorithm":"sha256"}]}
EOF
  curl -sS --cacert "$PKI/demo-ca.pem" --cert "$PKI/demo-collector.pem" --key "$PKI/demo-collector.key" \
    -H 'Content-Type: application/json' \
    --data '{"idempotencyKey":"demo-1","timestamp":"2026-01-01T00:00:00.000000Z","sender":{"identifiers":["demo-user"],"isTargetedParty":true}}' \
    https://127.0.0.1:9443/ingest/v1/tasks/LIID-DEMO-1/items >/dev/null
  for _ in $(seq 1 50); do
    [ -s "$DATA_DIR/lea-sim/deliveries.jsonl" ] && break
    sleep 0.2
  done
  echo "make run: demo delivery received by the simulator:"
  head -n 1 "$DATA_DIR/lea-sim/deliveries.jsonl" 2>/dev/null || echo "  (not yet: see $DATA_DIR/lea-sim)"
fi

cat <<EOF

LEA listener:    https://127.0.0.1:8443 (mutual TLS; demo LEA client certificate)
ingest listener: https://127.0.0.1:9443 (mutual TLS; demo collector certificate)
admin API:       $DATA_DIR/run/admin.sock
demo LEA:        enclave-lea-sim on https://127.0.0.1:$SIM_PORT, stores under $DATA_DIR/lea-sim

Try, from another shell:
  curl --cacert $PKI/demo-ca.pem --cert $PKI/demo-lea.pem --key $PKI/demo-lea.key https://localhost:8443/v1/whoami
  curl --cacert $PKI/demo-ca.pem --cert $PKI/demo-collector.pem --key $PKI/demo-collector.key -H 'Content-Type: application/json' \\
       --data '{"timestamp":"2026-01-01T00:00:00Z"}' https://localhost:9443/ingest/v1/tasks/LIID-DEMO-1/items
  $CTL --data-dir $DATA_DIR task show LIID-DEMO-1     (deliveries: docs/delivery.md)
  $CTL --data-dir $DATA_DIR endpoint list
  $CTL --data-dir $DATA_DIR audit key       (auditors: docs/auditor-guide.md)

EOF
rc=0
wait "$DAEMON_PID" || rc=$?
kill -TERM "$SIM_PID" 2>/dev/null || true
wait "$SIM_PID" 2>/dev/null || true
exit $rc
