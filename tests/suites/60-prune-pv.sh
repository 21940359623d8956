#!/usr/bin/env bash
# playbooks/prune_pv.yml on the local Kubernetes cluster: volumes released through the real
# kube-controller-manager, then pruned with and without confirmation, in check mode, with
# filters, on a terminal and as AWX runs it. Then the k8s_generated_secret module on the same
# cluster: create once, keep values on re-runs, patch only what differs, check and diff mode,
# nothing printed at -vvv (about 1 min more). Starts the cluster when it is not running and
# stops it again in that case only. Cold: the cluster build (tests/cluster/build.sh) plus
# ~6 min; warm (cluster running): ~6 min on 2 busy cores. Arguments go to the prune tests'
# pytest run.
# seconds: 328 (cold run of 4339490; scripts/test.sh starts the longest first)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH
# shellcheck source=../cluster/lib.sh
. tests/cluster/lib.sh

pid=""
cleanup() {
  # SIGINT lets pytest run its fixture teardown, which deletes the objects it created.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  if [ -n "$CLUSTER_STARTED" ]; then bash tests/cluster/stop.sh; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_or_start_cluster
python -m pytest -p no:cacheprovider -q -o console_output_style=classic tests/prune "$@" &
pid=$!
wait "$pid"
# A session of its own: tests/prune imports its conftest by name, which a second conftest.py
# in the same session would shadow.
python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=3 tests/k8s_generated_secret &
pid=$!
wait "$pid"
