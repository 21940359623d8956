#!/usr/bin/env bash
# Prints the path of a Python virtualenv holding requirements-test.txt, creating it on first use.
# The venv is cached outside the checkout, keyed by the requirement files, so a warm run reuses it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
key=$(cat "$root/requirements.txt" "$root/requirements-test.txt" | sha256sum | cut -c1-12)
venv=$cache/venv-$key
mkdir -p "$cache"
# Concurrent callers wait for the first one to finish building.
exec 9>"$cache/.venv.lock"; flock 9
if [ ! -f "$venv/.done" ]; then
  py=""
  for cand in "${MLFLOW_K8S_PYTHON:-}" python3.13 python3.12 "$HOME/.pyenv/versions/"3.12*/bin/python3.12; do
    [ -n "$cand" ] || continue
    if p=$(command -v "$cand" 2>/dev/null) && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then py=$p; break; fi
  done
  [ -n "$py" ] || { echo "ERROR: Python >= 3.12 is needed for ansible-core 2.21 (set MLFLOW_K8S_PYTHON)" >&2; exit 1; }
  rm -rf "$venv"; mkdir -p "$cache"
  "$py" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements-test.txt" >&2
  touch "$venv/.done"
fi
echo "$venv"
