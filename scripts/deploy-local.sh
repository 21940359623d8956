#!/usr/bin/env bash
# The main job on a fresh machine: installs the toolchain, builds and starts the local
# Kubernetes cluster with its real node (unless KUBECONFIG points at a cluster of yours) and runs
# playbooks/site.yml with inventories/local. Extra arguments go to ansible-playbook (e.g. --check --diff;
# with a cluster of yours, also -e mlflow_k8s_users_tracking_uri=<where this machine reaches MLflow>).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}/bin:$PATH"
if [ -n "${KUBECONFIG:-}" ]; then
  echo "[deploy] using your cluster from KUBECONFIG=$KUBECONFIG" >&2
  extra=(-e "mlflow_k8s_kubeconfig=$KUBECONFIG")
else
  KUBECONFIG=$(bash tests/cluster/start.sh); export KUBECONFIG
  extra=()
fi
ansible-playbook playbooks/site.yml -i inventories/local "${extra[@]}" "$@"
echo
echo "== Deployed (kubeconfig: $KUBECONFIG)"
helm list --all-namespaces
kubectl get pods,services,ingresses --namespace mlflow -o wide
kubectl get clusterissuers,certificates --all-namespaces
if [ -z "${extra[*]}" ]; then
  cat <<TXT

MLflow runs on the local cluster's node; the harness forwards its Service to
http://127.0.0.1:${MLFLOW_K8S_MLFLOW_PORT:-15000} (as \`kubectl port-forward -n mlflow svc/mlflow\` would).
The cluster lives in a network namespace of its own; see README, "The local cluster".
TXT
fi
cat <<'TXT'

Secrets were generated into the cluster and are never printed. To read the MLflow admin
password: kubectl -n mlflow get secret mlflow-admin -o jsonpath='{.data.password}' | base64 -d
TXT
