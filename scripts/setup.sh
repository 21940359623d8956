#!/usr/bin/env bash
# Installs what the main job and the tests need on a fresh machine of this kind (Debian,
# Go >= 1.26, Python 3.12 through pyenv or the system): OS packages, the cached Python venv,
# and the local control plane binaries built from Go modules. Idempotent and cached.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v pg_dump >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup] installing ${need[*]}" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
venv=$(bash scripts/venv.sh)
echo "[setup] Python venv: $venv" >&2
bash tests/cluster/build.sh
