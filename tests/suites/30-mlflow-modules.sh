#!/usr/bin/env bash
# MLflow auth modules and the mlflow_users role against real servers: `mlflow server
# --app-name basic-auth` for the newest installable release and a legacy one (< 3.13), each
# with Debian's PostgreSQL for the tracking and auth databases (unit tests: 20-unit.sh).
# Cold (two MLflow virtualenvs to build): a few minutes more than warm.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"

# Build the cached virtualenvs one after the other (2 cores, shared).
python tests/lib/mlflow_env.py venv "${MLFLOW_TEST_CURRENT_VERSION:-3.17.2}" >/dev/null
python tests/lib/mlflow_env.py venv "${MLFLOW_TEST_LEGACY_VERSION:-3.12.0}" >/dev/null

# pytest stops its PostgreSQL and MLflow process groups in fixture teardown; a TERM/INT to this
# script is passed on as SIGINT, which pytest turns into an orderly teardown.
python -m pytest -p no:cacheprovider -o console_output_style=classic -rA \
  tests/integration/mlflow &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null; wait "$pid"; exit 130' INT TERM
wait "$pid"
