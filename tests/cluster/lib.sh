# Shared settings for the local control plane scripts. Sourced, not executed.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

CACHE_ROOT=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
STATE_DIR=${MLFLOW_K8S_STATE:-/var/tmp/mlflow-k8s-cluster}
KUBECONFIG_PATH=$STATE_DIR/kubeconfig
APISERVER_PORT=${MLFLOW_K8S_APISERVER_PORT:-6443}
ETCD_CLIENT_PORT=${MLFLOW_K8S_ETCD_PORT:-2379}
ETCD_PEER_PORT=$((ETCD_CLIENT_PORT + 1))
KCM_PORT=${MLFLOW_K8S_KCM_PORT:-10257}
SCHEDULER_PORT=${MLFLOW_K8S_SCHEDULER_PORT:-10259}
KWOK_PORT=${MLFLOW_K8S_KWOK_PORT:-10247}

k8s_dir=$CACHE_ROOT/kubernetes-v$KUBERNETES_VERSION
etcd_dir=$CACHE_ROOT/etcd-v$ETCD_VERSION
kwok_dir=$CACHE_ROOT/kwok-v$KWOK_VERSION
helm_dir=$CACHE_ROOT/helm-v$HELM_VERSION
# Where start.sh and the tests find every binary under its usual name.
BIN_DIR=$CACHE_ROOT/bin

die() { echo "ERROR: $*" >&2; exit 1; }
log() { echo "[cluster] $*" >&2; }
