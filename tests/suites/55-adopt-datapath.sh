#!/usr/bin/env bash
# Adopting a Bitnami MLflow install (issue 7), in two parts:
#  1. the data path: PostgreSQL databases written by a real MLflow 3.3.2 basic-auth server
#     (the Bitnami chart's version), dumped, restored and migrated by the scripts the
#     adoption Job runs (playbooks/adopt_bitnami/files), then served by the current MLflow;
#  2. playbooks/adopt_bitnami.yml on the local Kubernetes cluster (Jobs, Secrets, scaling,
#     order, confirmation, check mode, re-runs). The cluster is started when it is not
#     running and stopped again in that case only.
# Needs Debian's PostgreSQL 15 server binaries and PyPI. Cold: two MLflow virtualenvs
# (3.3.2 ~1.5 min, current ~2.5 min) and the cluster build; warm: ~3 min (data path) plus
# ~5 min (cluster) on 2 busy cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH
pg_bin=${MLFLOW_K8S_PG_BIN:-/usr/lib/postgresql/15/bin}
for tool in postgres initdb pg_dump pg_restore psql; do
  [ -x "$pg_bin/$tool" ] || {
    echo "ERROR: $pg_bin/$tool missing (apt-get install postgresql-15, or set MLFLOW_K8S_PG_BIN)" >&2; exit 1; }
done
state=${MLFLOW_K8S_STATE:-/var/tmp/mlflow-k8s-cluster}
kubectl=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}/bin/kubectl
current=${ADOPT_CURRENT_MLFLOW:-$(python -c 'import sys; sys.path.insert(0, "tests/lib"); import mlflow_env; print(mlflow_env.CURRENT_VERSION)')}
# Build (or reuse) both MLflow virtualenvs first, so pip time is not counted as a test timeout.
python tests/lib/mlflow_env.py venv "${ADOPT_LEGACY_MLFLOW:-3.3.2}" >/dev/null
python tests/lib/mlflow_env.py venv "$current" >/dev/null

started=""
pid=""
cleanup() {
  # SIGINT lets pytest run its fixture teardown, which stops every server it started and
  # deletes the namespaces it created.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    wait "$pid" || echo "adopt: pytest stopped on signal" >&2
  fi
  if [ -n "$started" ]; then bash tests/cluster/stop.sh; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=3 \
  tests/adopt/test_datapath.py "$@" &
pid=$!
wait "$pid"

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
