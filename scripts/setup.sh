#!/usr/bin/env bash
# Installs what the main job and the tests need on a fresh machine of this kind (Debian,
# Go >= 1.26, Python 3.12 through pyenv or the system): OS packages, the cached Python venv,
# and the local control plane binaries built from Go modules. Idempotent and cached.
# With --tests it also warms what the test suites use (MLflow server virtualenvs, oauth2-proxy):
# the virtualenvs (mostly downloads) are built while Go compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v pg_dump >/dev/null || need+=(postgresql-client)
# The local cluster's node (runc, iptables, ipset, conntrack for kube-proxy and kube-router) and
# the images it runs (mmdebstrap for root filesystems, setcap, gcc with a static libc for pause).
for tool in runc:runc iptables:iptables ipset:ipset conntrack:conntrack ip:iproute2 mmdebstrap:mmdebstrap \
            setcap:libcap2-bin gcc:gcc; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup] installing ${need[*]}" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
venv=$(bash scripts/venv.sh)
echo "[setup] Python venv: $venv" >&2
warmers=()
if [ "${1:-}" = --tests ]; then
  mkdir -p "${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}"
  log=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}/warm-venvs.log
  # The versions the suites use: current and pre-3.13 servers, Bitnami's 3.3.2, the SSO client.
  "$venv/bin/python" - >"$log" 2>&1 <<'PY' &
import sys
sys.path.insert(0, "tests/lib")
import mlflow_env

for version in (mlflow_env.CURRENT_VERSION, mlflow_env.LEGACY_VERSION, "3.3.2"):
    print(mlflow_env.ensure_venv(version), flush=True)
print(mlflow_env.ensure_venv(mlflow_env.CURRENT_VERSION, extra_requirements=("scikit-learn",)), flush=True)
PY
  warmers+=($!)
  echo "[setup] building MLflow virtualenvs in the background (log: $log)" >&2
fi
bash tests/cluster/build.sh
if [ "${1:-}" = --tests ]; then
  for pid in "${warmers[@]}"; do
    wait "$pid" || { tail -n 30 "$log" >&2; echo "ERROR: building the MLflow virtualenvs failed; see $log" >&2; exit 1; }
  done
fi
