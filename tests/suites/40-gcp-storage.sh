#!/usr/bin/env bash
# gcp_storage role and gcp_iam_member module (issue 4). Unit tests for the module's policy
# logic, then the role's real tasks (google.cloud modules + gcp_iam_member) against a local
# stand-in for Google's Storage, IAM and OAuth endpoints reached through an HTTPS proxy with a
# per-run test CA (tests/gcp_standin); in key mode the credentials Secret goes to the local
# cluster's real API server. Starts the cluster if it is not running and stops it only then.
# Cold: the cluster build (tests/cluster/build.sh) plus ~6 minutes; warm: ~6 minutes on 2 cores.
# seconds: 302 (cold run of 4339490; scripts/test.sh starts the longest first)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH

# shellcheck source=../cluster/lib.sh
. tests/cluster/lib.sh
pid=""
GCP_STANDIN_RUN_DIR=$(mktemp -d)
export GCP_STANDIN_RUN_DIR
cleanup() {
  # Every step runs whatever the previous one returned; the suite's own status is kept.
  local rc=$?
  set +e
  # SIGINT lets pytest run its fixture teardown, which stops each stand-in it started. A suite
  # started in the background ignores SIGINT, so fall back to SIGTERM and stop what is left of
  # the stand-ins (each runs in its own process group) from their pid files.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
    wait "$pid"
  fi
  for f in "$GCP_STANDIN_RUN_DIR"/*.pid; do
    if [ -f "$f" ]; then kill -TERM -- "-$(cat "$f")"; fi
  done
  rm -rf "$GCP_STANDIN_RUN_DIR"
  if [ -n "$CLUSTER_STARTED" ]; then
    bash tests/cluster/stop.sh
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No pod of these tests runs on the real node (API objects, KWOK).
use_or_start_cluster
export K8S_AUTH_KUBECONFIG=$KUBECONFIG

PYTHONPATH="$root/.collections${PYTHONPATH:+:$PYTHONPATH}" \
  python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=5 \
  tests/unit/plugins/modules/test_gcp_iam_member.py tests/gcp_standin "$@" &
pid=$!
wait "$pid"
