#!/usr/bin/env bash
# lib.sh (sourced by the caller) assigns the paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# The local cluster's certificates, made once per state directory (sourced by start.sh):
# a CA, the API server's serving certificate, client certificates for the admin, the API
# server's calls to the kubelet, the kubelet, kube-proxy and kube-router, the kubelet's serving
# certificate, the service-account key pair; and a kubeconfig per client.

pki=$STATE_DIR/pki

make_pki() {
  [ -f "$pki/.done" ] && return
  mkdir -p "$pki"
  local cnf=$pki/extensions.cnf
  openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=mlflow-k8s-local-ca" -days 3650 -out "$pki/ca.crt"
  cat >"$cnf" <<CNF
[req]
distinguished_name = dn
[dn]
[apiserver]
subjectAltName = IP:127.0.0.1,IP:$NODE_IP,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage = serverAuth
[kubelet]
subjectAltName = IP:$NODE_IP,DNS:$NODE_NAME
extendedKeyUsage = serverAuth
[client]
extendedKeyUsage = clientAuth
CNF
  sign() { # sign <name> <subject> <extensions section>
    openssl genrsa -out "$pki/$1.key" 2048 2>/dev/null
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 3650 -out "$pki/$1.crt" -extfile "$cnf" -extensions "$3" 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" apiserver
  # The API server reaches the kubelet (logs, exec, port-forward) as this user.
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" client
  sign kubelet-serving "/CN=$NODE_NAME" kubelet
  sign kube-proxy "/CN=system:kube-proxy" client
  sign kube-router "/CN=mlflow-k8s:kube-router" client
  sign admin "/O=system:masters/CN=mlflow-k8s-admin" client
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  touch "$pki/.done"
}

kubeconfig() { # kubeconfig <client> <server URL> <path>
  b64() { base64 -w0 <"$1"; }
  cat >"$3.tmp" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: mlflow-k8s-local
  cluster:
    server: $2
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(b64 "$pki/$1.crt")
    client-key-data: $(b64 "$pki/$1.key")
contexts:
- name: mlflow-k8s-local
  context: {cluster: mlflow-k8s-local, user: $1}
current-context: mlflow-k8s-local
KCFG
  chmod 600 "$3.tmp"; mv "$3.tmp" "$3"
}

write_kubeconfigs() {
  local inner=https://127.0.0.1:$INNER_APISERVER_PORT
  # The host's kubeconfig goes through the forwarder; the cluster's own components stay inside.
  kubeconfig admin "https://127.0.0.1:$APISERVER_PORT" "$KUBECONFIG_PATH"
  kubeconfig admin "$inner" "$pki/admin.kubeconfig"
  kubeconfig kubelet "$inner" "$pki/kubelet.kubeconfig"
  kubeconfig kube-proxy "$inner" "$pki/kube-proxy.kubeconfig"
  kubeconfig kube-router "$inner" "$pki/kube-router.kubeconfig"
}
