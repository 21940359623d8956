# Shared settings for the local control plane scripts. Sourced, not executed.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

# Exported: the scripts that source this file, and the processes they start, use them.
export CACHE_ROOT=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
export STATE_DIR=${MLFLOW_K8S_STATE:-/var/tmp/mlflow-k8s-cluster}
export KUBECONFIG_PATH=$STATE_DIR/kubeconfig
# The only ports on the host: the forwarder's, on 127.0.0.1 (everything else lives in the
# cluster's network namespace, which has its own loopback).
export APISERVER_PORT=${MLFLOW_K8S_APISERVER_PORT:-6443}
# Where the host reaches the deployment's MLflow and oauth2-proxy Services (like
# `kubectl port-forward svc/...`); inventories/local points mlflow_users at the first.
export MLFLOW_PORT=${MLFLOW_K8S_MLFLOW_PORT:-15000}
export SSO_PORT=${MLFLOW_K8S_SSO_PORT:-14180}

# One network namespace, cgroup root and node per state directory, so two clusters (a
# developer's and a CI run) coexist on one machine.
CLUSTER_ID=$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-8)
export CLUSTER_ID NETNS=mlflow-k8s-$CLUSTER_ID CGROUP_ROOT=/mlflow-k8s-$CLUSTER_ID
export NETNS_PATH=/run/netns/$NETNS
export NODE_NAME=mlflow-k8s-node NODE_IP=10.250.0.10
export POD_CIDR=10.245.0.0/24 POD_GATEWAY=10.245.0.1 SERVICE_CIDR=10.96.0.0/16 CLUSTER_DNS=10.96.0.10
export NODE_DIR=$STATE_DIR/node
# Ports inside the namespace (fixed: nothing else listens there).
export INNER_APISERVER_PORT=6443 INNER_ETCD_PORT=2379 INNER_ETCD_PEER_PORT=2380
export INNER_KCM_PORT=10257 INNER_SCHEDULER_PORT=10259 INNER_KWOK_PORT=10247

export k8s_dir=$CACHE_ROOT/kubernetes-v$KUBERNETES_VERSION
export etcd_dir=$CACHE_ROOT/etcd-v$ETCD_VERSION
export kwok_dir=$CACHE_ROOT/kwok-v$KWOK_VERSION
export helm_dir=$CACHE_ROOT/helm-v$HELM_VERSION
export kubelet_dir=$CACHE_ROOT/kubelet-v$KUBERNETES_VERSION
export containerd_dir=$CACHE_ROOT/containerd-v$CONTAINERD_VERSION
export cni_dir=$CACHE_ROOT/cni-plugins-v$CNI_PLUGINS_VERSION
export coredns_dir=$CACHE_ROOT/coredns-v$COREDNS_VERSION
export kube_router_dir=$CACHE_ROOT/kube-router-v$KUBE_ROUTER_VERSION
export cert_manager_dir=$CACHE_ROOT/cert-manager-v$CERT_MANAGER_VERSION
export oauth2_proxy_dir=$CACHE_ROOT/oauth2-proxy-v$OAUTH2_PROXY_VERSION
# Where start.sh and the tests find every binary under its usual name.
export BIN_DIR=$CACHE_ROOT/bin

die() { echo "ERROR: $*" >&2; exit 1; }
# Runs a command in the cluster's network namespace (the host's mounts).
in_netns() { nsenter --net="$NETNS_PATH" -- "$@"; }
log() { echo "[cluster] $*" >&2; }
# For the suites: exports KUBECONFIG for the cluster of $STATE_DIR, starting one if none answers
# there (then CLUSTER_STARTED=1: the caller stops it again; a cluster that was already up, a
# developer's or another suite's, is left as it is). Unless MLFLOW_K8S_IMAGES says otherwise,
# the node gets only the images the cluster itself needs.
CLUSTER_STARTED=""
use_or_start_cluster() {
  if [ -f "$KUBECONFIG_PATH" ] && [ -x "$BIN_DIR/kubectl" ] &&
    "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" get --raw /readyz >/dev/null 2>&1; then
    KUBECONFIG=$KUBECONFIG_PATH
  else
    CLUSTER_STARTED=1
    KUBECONFIG=$(MLFLOW_K8S_IMAGES=${MLFLOW_K8S_IMAGES:-pause toolbox coredns} bash "$here/start.sh")
  fi
  export KUBECONFIG
}
