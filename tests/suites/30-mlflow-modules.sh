#!/usr/bin/env bash
# MLflow auth modules and the mlflow_users role against real servers: `mlflow server
# --app-name basic-auth` for the newest installable release and a legacy one (< 3.13), each
# with Debian's PostgreSQL for the tracking and auth databases (unit tests: 20-unit.sh).
# Cold (two MLflow virtualenvs to build): a few minutes more than warm.
# lane: host
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"

# Build the cached virtualenvs one after the other (2 cores, shared).
python tests/lib/mlflow_env.py venv "${MLFLOW_TEST_CURRENT_VERSION:-3.17.2}" >/dev/null
python tests/lib/mlflow_env.py venv "${MLFLOW_TEST_LEGACY_VERSION:-3.12.0}" >/dev/null

# One pytest session per MLflow version, side by side (each with its own PostgreSQL and server):
# the tests wait mostly on ansible-playbook start-up and the servers, so two sessions overlap well
# on two cores. pytest stops its process groups in fixture teardown; a TERM/INT to this script is
# passed on as SIGINT, which pytest turns into an orderly teardown.
logs=$(mktemp -d)
pids=()
for version in "${MLFLOW_TEST_CURRENT_VERSION:-3.17.2}" "${MLFLOW_TEST_LEGACY_VERSION:-3.12.0}"; do
  python -m pytest -p no:cacheprovider -o console_output_style=classic -rA -k "$version" \
    tests/integration/mlflow >"$logs/$version.log" 2>&1 &
  pids+=($!)
done
trap 'kill -INT "${pids[@]}" 2>/dev/null; wait; exit 130' INT TERM
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$logs"/*.log
rm -rf "$logs"
exit "$status"
