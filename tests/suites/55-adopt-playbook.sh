#!/usr/bin/env bash
# Adopting a Bitnami MLflow install (issue 7), the playbook: playbooks/adopt_bitnami.yml on the
# local Kubernetes cluster (Jobs, Secrets, scaling, order, confirmation, check mode, re-runs).
# The data path it relies on: 50-adopt-datapath.sh. The cluster is started when it is not
# running and stopped again in that case only. Warm: ~5 min on 2 busy cores.
# seconds: 603 (cold run of 4339490; scripts/test.sh starts the longest first)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH
# shellcheck source=../cluster/lib.sh
. tests/cluster/lib.sh
pid=""
cleanup() {
  # SIGINT lets pytest run its fixture teardown, which deletes the namespaces it created.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    wait "$pid" || echo "adopt: pytest stopped on signal" >&2
  fi
  if [ -n "$CLUSTER_STARTED" ]; then bash tests/cluster/stop.sh; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_or_start_cluster
python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=3 \
  tests/adopt/test_playbook_cluster.py "$@" &
pid=$!
wait "$pid"
