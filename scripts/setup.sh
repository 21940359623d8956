#!/usr/bin/env bash
# Installs what the main job and the tests need on a fresh machine of this kind (Debian,
# Go >= 1.26, Python 3.12 through pyenv or the system): OS packages, the cached Python venv,
# the local cluster's binaries (Go modules) and images (Debian, PyPI). Idempotent and cached.
# With --tests it also warms the MLflow server virtualenvs the suites use. Downloads are done
# while Go compiles. With --host it stops after the OS packages and the Python venv (what the
# suites that need no cluster use; scripts/test.sh runs those while the rest builds).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case $mode in ""|--tests|--host) ;; *) echo "ERROR: unknown option '$mode' (use --tests or --host)" >&2; exit 2 ;; esac
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
[ "$mode" != --host ] || exit 0
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
mkdir -p "$cache"
# Downloads and unpacking (apt, PyPI) overlap the Go builds: the images that need no Go binary,
# and with --tests the MLflow virtualenvs the suites use, build in the background meanwhile.
warmers=() logs=()
bash tests/cluster/images/build.sh mlflow postgres toolbox >/dev/null 2>"$cache/warm-images.log" &
warmers+=($!) logs+=("$cache/warm-images.log")
echo "[setup] building the MLflow, PostgreSQL and toolbox images in the background (log: $cache/warm-images.log)" >&2
if [ "$mode" = --tests ]; then
  # The versions the suites use: current and pre-3.13 servers, Bitnami's 3.3.2, the SSO client.
  PYTHONPATH=tests/lib "$venv/bin/python" - >"$cache/warm-venvs.log" 2>&1 <<'PY' &
import mlflow_env

for version in (mlflow_env.CURRENT_VERSION, mlflow_env.LEGACY_VERSION, "3.3.2"):
    print(mlflow_env.ensure_venv(version), flush=True)
print(mlflow_env.ensure_venv(mlflow_env.CURRENT_VERSION, extra_requirements=("scikit-learn",)), flush=True)
PY
  warmers+=($!) logs+=("$cache/warm-venvs.log")
  echo "[setup] building MLflow virtualenvs in the background (log: $cache/warm-venvs.log)" >&2
fi
bash tests/cluster/build.sh
for i in "${!warmers[@]}"; do
  wait "${warmers[$i]}" || { tail -n 30 "${logs[$i]}" >&2; echo "ERROR: a background build failed; see ${logs[$i]}" >&2; exit 1; }
done
# The images of the Go binaries just built (the others are cached by now).
bash tests/cluster/images/build.sh >/dev/null
