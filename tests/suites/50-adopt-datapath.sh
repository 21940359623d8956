#!/usr/bin/env bash
# Adopting a Bitnami MLflow install (issue 7), the data path: PostgreSQL databases written by a
# real MLflow 3.3.2 basic-auth server (the Bitnami chart's version), dumped, restored and
# migrated by the scripts the adoption Job runs (playbooks/adopt_bitnami/files), then served by
# the current MLflow. The playbook itself on the cluster: 55-adopt-playbook.sh.
# Needs Debian's PostgreSQL 15 server binaries and PyPI. Cold: two MLflow virtualenvs
# (3.3.2 ~1.5 min, current ~2.5 min); warm: ~3 min on 2 busy cores.
# lane: host
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
current=${ADOPT_CURRENT_MLFLOW:-$(python -c 'import sys; sys.path.insert(0, "tests/lib"); import mlflow_env; print(mlflow_env.CURRENT_VERSION)')}
# Build (or reuse) both MLflow virtualenvs first, so pip time is not counted as a test timeout.
python tests/lib/mlflow_env.py venv "${ADOPT_LEGACY_MLFLOW:-3.3.2}" >/dev/null
python tests/lib/mlflow_env.py venv "$current" >/dev/null

pid=""
cleanup() {
  # SIGINT lets pytest run its fixture teardown, which stops every server it started.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    wait "$pid" || echo "adopt: pytest stopped on signal" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=3 \
  tests/adopt/test_datapath.py "$@" &
pid=$!
wait "$pid"
