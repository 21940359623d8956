#!/usr/bin/env bash
# End-to-end SSO proof on loopback: oauth2-proxy (built from its Go module), a fake GitHub,
# MLflow (basic-auth app) and PostgreSQL, configured with the files the postgres_mlflow and
# oauth2_proxy roles render. Cold: builds oauth2-proxy (~2 min) and two MLflow virtualenvs
# (~3 min each); warm: about 1.5 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH
[ -x "${MLFLOW_K8S_PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" ] || {
  echo "ERROR: PostgreSQL server binaries missing (apt-get install postgresql-15, or set MLFLOW_K8S_PG_BIN)" >&2; exit 1; }
# Build (or reuse) oauth2-proxy before the tests so its build time is not a test timeout.
bash tests/e2e/build-oauth2-proxy.sh >/dev/null

pid=""
cleanup() {
  # SIGINT lets pytest run its fixture teardown, which stops every server it started.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python -m pytest -p no:cacheprovider -q -o console_output_style=classic tests/e2e "$@" &
pid=$!
wait "$pid"
