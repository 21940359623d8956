#!/usr/bin/env bash
# Adopting a Bitnami MLflow install (issue 7), the playbook: playbooks/adopt_bitnami.yml on the
# local Kubernetes cluster (Jobs, Secrets, scaling, order, confirmation, check mode, re-runs).
# The data path it relies on: 50-adopt-datapath.sh. The cluster is started when it is not
# running and stopped again in that case only. Warm: ~5 min on 2 busy cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH
state=${MLFLOW_K8S_STATE:-/var/tmp/mlflow-k8s-cluster}
kubectl=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}/bin/kubectl
started=""
pid=""
cleanup() {
  # SIGINT lets pytest run its fixture teardown, which deletes the namespaces it created.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    wait "$pid" || echo "adopt: pytest stopped on signal" >&2
  fi
  if [ -n "$started" ]; then bash tests/cluster/stop.sh; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -f "$state/kubeconfig" ] && [ -x "$kubectl" ] &&
  "$kubectl" --kubeconfig "$state/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
  KUBECONFIG=$state/kubeconfig
else
  started=1
  # No pod of these tests runs on the real node (API objects, KWOK): the node gets only the
  # images the cluster itself needs, not MLflow's or PostgreSQL's.
  KUBECONFIG=$(MLFLOW_K8S_IMAGES=${MLFLOW_K8S_IMAGES:-pause toolbox coredns} bash tests/cluster/start.sh)
fi
export KUBECONFIG
python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=3 \
  tests/adopt/test_playbook_cluster.py "$@" &
pid=$!
wait "$pid"
