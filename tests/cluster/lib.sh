# Shared settings for the local control plane scripts. Sourced, not executed.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

# Exported: the scripts that source this file, and the processes they start, use them.
export CACHE_ROOT=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
export STATE_DIR=${MLFLOW_K8S_STATE:-/var/tmp/mlflow-k8s-cluster}
export KUBECONFIG_PATH=$STATE_DIR/kubeconfig
export APISERVER_PORT=${MLFLOW_K8S_APISERVER_PORT:-6443}
export ETCD_CLIENT_PORT=${MLFLOW_K8S_ETCD_PORT:-2379}
export ETCD_PEER_PORT=${MLFLOW_K8S_ETCD_PEER_PORT:-$((ETCD_CLIENT_PORT + 1))}
export KCM_PORT=${MLFLOW_K8S_KCM_PORT:-10257}
export SCHEDULER_PORT=${MLFLOW_K8S_SCHEDULER_PORT:-10259}
export KWOK_PORT=${MLFLOW_K8S_KWOK_PORT:-10247}

export k8s_dir=$CACHE_ROOT/kubernetes-v$KUBERNETES_VERSION
export etcd_dir=$CACHE_ROOT/etcd-v$ETCD_VERSION
export kwok_dir=$CACHE_ROOT/kwok-v$KWOK_VERSION
export helm_dir=$CACHE_ROOT/helm-v$HELM_VERSION
# Where start.sh and the tests find every binary under its usual name.
export BIN_DIR=$CACHE_ROOT/bin

die() { echo "ERROR: $*" >&2; exit 1; }
log() { echo "[cluster] $*" >&2; }
