#!/usr/bin/env bash
# The main job on a fresh machine: installs the toolchain, starts the local Kubernetes control
# plane (unless KUBECONFIG points at a cluster of yours) and runs playbooks/site.yml with
# inventories/local. Extra arguments go to ansible-playbook (e.g. --check --diff).
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
kubectl get deployments,statefulsets,services,ingresses --namespace mlflow
kubectl get clusterissuers
runtime=$(dirname "$KUBECONFIG")/local-runtime/mlflow/state.json
if [ -f "$runtime" ]; then
  echo
  echo "MLflow (a real server running what the cluster describes): $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tracking_uri"])' "$runtime")"
fi
cat <<'TXT'

Secrets were generated into the cluster and are never printed. To read the MLflow admin
password: kubectl -n mlflow get secret mlflow-admin -o jsonpath='{.data.password}' | base64 -d
The local cluster is simulated (KWOK): pods report Running but no container runs; see README.
TXT
