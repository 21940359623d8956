#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Starts the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kwok, a load-balancer stand-in), one Ready KWOK node, a default StorageClass with pre-made PVs.
# Idempotent: components already running are left alone. Prints the kubeconfig path on stdout.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

bash "$here/build.sh" >&2
mkdir -p "$STATE_DIR/logs" "$STATE_DIR/pki" "$STATE_DIR/run"
exec 8>"$STATE_DIR/.start.lock"; flock 8

pki=$STATE_DIR/pki
running() { local f=$STATE_DIR/run/$1.pid; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

launch() { # launch <component> <port> <command...>
  local name=$1 port=$2; shift 2
  if running "$name"; then return; fi
  port_free "$port" || die "$name: port 127.0.0.1:$port is already in use by another process (set MLFLOW_K8S_*_PORT or stop it); log: $STATE_DIR/logs/$name.log"
  # 8>&-: the component must not inherit the start lock, or the next start.sh waits forever.
  setsid "$@" >>"$STATE_DIR/logs/$name.log" 2>&1 </dev/null 8>&- &
  echo $! >"$STATE_DIR/run/$name.pid"
  log "$name started (pid $!, log $STATE_DIR/logs/$name.log)"
}

wait_for() { # wait_for <component> <seconds> <check command...>
  local name=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 25 "$STATE_DIR/logs/$name.log" >&2
      die "$name exited; see $STATE_DIR/logs/$name.log"
    fi
    [ $SECONDS -lt $deadline ] || die "$name not healthy after ${limit}s; see $STATE_DIR/logs/$name.log"
    sleep 1
  done
}

make_pki() {
  [ -f "$pki/admin.crt" ] && return
  local cnf=$pki/apiserver.cnf
  openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=mlflow-k8s-local-ca" -days 3650 -out "$pki/ca.crt"
  cat >"$cnf" <<CNF
[req]
distinguished_name = dn
[dn]
[ext]
subjectAltName = IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage = serverAuth
CNF
  sign() { # sign <name> <subject> [extensions section]
    openssl genrsa -out "$pki/$1.key" 2048 2>/dev/null
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 3650 -out "$pki/$1.crt" ${3:+-extfile "$cnf" -extensions "$3"} 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" ext
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # The admin certificate is issued last: its presence marks a complete PKI.
  sign admin "/O=system:masters/CN=mlflow-k8s-admin"
}

write_kubeconfig() {
  b64() { base64 -w0 <"$1"; }
  cat >"$KUBECONFIG_PATH.tmp" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: mlflow-k8s-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: mlflow-k8s-local
  context: {cluster: mlflow-k8s-local, user: admin}
current-context: mlflow-k8s-local
KCFG
  chmod 600 "$KUBECONFIG_PATH.tmp"; mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
}

premade_pvs() { # PVs in three sizes for the default class, on paths nothing reads (pods never run).
  local size i lower
  for size in 1Gi:8 10Gi:8 50Gi:4; do
    lower=${size%:*}; lower=${lower,,}
    for ((i = 0; i < ${size#*:}; i++)); do
      cat <<PV
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-pv-${lower}-$i
  labels: {mlflow-k8s.local/harness: "true"}
spec:
  storageClassName: standard
  capacity: {storage: ${size%:*}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $STATE_DIR/volumes/local-pv-${lower}-$i}
PV
    done
  done
}

make_pki
write_kubeconfig
kc=("$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH")

running etcd || port_free "$ETCD_PEER_PORT" ||
  die "etcd: peer port 127.0.0.1:$ETCD_PEER_PORT is already in use by another process (set MLFLOW_K8S_ETCD_PEER_PORT); log: $STATE_DIR/logs/etcd.log"
launch etcd "$ETCD_CLIENT_PORT" "$BIN_DIR/etcd" --name local --data-dir "$STATE_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --quota-backend-bytes 2147483648
wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

launch kube-apiserver "$APISERVER_PORT" "$BIN_DIR/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$APISERVER_PORT" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC --service-cluster-ip-range 10.96.0.0/16 \
  --service-account-issuer https://kubernetes.default.svc.cluster.local --service-account-key-file "$pki/sa.pub" \
  --service-account-signing-key-file "$pki/sa.key" --endpoint-reconciler-type none --allow-privileged=true \
  --enable-priority-and-fairness=false --profiling=false
wait_for kube-apiserver 120 curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz"

launch kube-controller-manager "$KCM_PORT" "$BIN_DIR/kube-controller-manager" --kubeconfig "$KUBECONFIG_PATH" \
  --authentication-kubeconfig "$KUBECONFIG_PATH" --authorization-kubeconfig "$KUBECONFIG_PATH" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --root-ca-file "$pki/ca.crt" \
  --service-account-private-key-file "$pki/sa.key" --use-service-account-credentials=false \
  --authorization-always-allow-paths /healthz,/readyz,/livez --pvclaimbinder-sync-period 2s \
  --node-monitor-grace-period 60s
launch kube-scheduler "$SCHEDULER_PORT" "$BIN_DIR/kube-scheduler" --kubeconfig "$KUBECONFIG_PATH" \
  --authentication-kubeconfig "$KUBECONFIG_PATH" --authorization-kubeconfig "$KUBECONFIG_PATH" \
  --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
  --authorization-always-allow-paths /healthz,/readyz,/livez
launch kwok "$KWOK_PORT" "$BIN_DIR/kwok" --kubeconfig "$KUBECONFIG_PATH" --config "$kwok_dir/stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds 40 --cidr 10.244.0.0/16 --node-ip 10.244.0.1 \
  --server-address "127.0.0.1:$KWOK_PORT"
launch cloud-standin 0 bash "$here/cloud-standin.sh" "$KUBECONFIG_PATH"
wait_for kube-controller-manager 60 curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler 60 curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"
wait_for kwok 60 curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz"

"${kc[@]}" apply --server-side --field-manager mlflow-k8s-harness -f "$here/manifests/node.yaml" >&2
"${kc[@]}" apply --server-side --field-manager mlflow-k8s-harness -f "$here/manifests/storageclass.yaml" >&2
premade_pvs | "${kc[@]}" apply --server-side --field-manager mlflow-k8s-harness -f - >&2
wait_for kwok 90 "${kc[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=5s
# The default ServiceAccount is created by a controller; pods cannot be admitted before it exists.
wait_for kube-controller-manager 60 "${kc[@]}" -n default get serviceaccount default

log "ready: kubectl --kubeconfig $KUBECONFIG_PATH get nodes"
echo "$KUBECONFIG_PATH"
