#!/usr/bin/env bash
# Sets up and runs every test: static checks, unit tests, modules against real MLflow servers,
# role tests, end-to-end SSO, molecule `local` on the local cluster.
# Usage: bash scripts/test.sh [suite-name-substring ...]
#
# The suites marked "# lane: host" need no cluster: they run while the cluster and its images
# build in the background (on a new machine that build is the longest step, and on two cores a
# go build leaves CPU idle that they fill). The other suites run after it, one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/setup.sh --host
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
setup_log=$cache/setup.log
# A process group of its own, so that stopping this script stops the go builds too.
setsid bash scripts/setup.sh --tests >"$setup_log" 2>&1 &
setup_pid=$!
trap 'kill -TERM -- "-$setup_pid" 2>/dev/null || true' EXIT
echo "test.sh: building the cluster and the images in the background (log: $setup_log)"

host=() cluster=()
for suite in tests/suites/*.sh; do
  name=$(basename "$suite" .sh)
  if [ $# -gt 0 ]; then
    match=0; for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  if grep -qx '# lane: host' "$suite"; then host+=("$suite"); else cluster+=("$suite"); fi
done

passed=0; failed=0; failures=()
run() { # run <suite>
  local name t0=$SECONDS
  name=$(basename "$1" .sh)
  echo "=================== suite $name"
  if bash "$1"; then
    passed=$((passed + 1)); echo "=================== suite $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=================== suite $name: FAILED ($((SECONDS - t0)) s)"
  fi
}
for suite in "${host[@]}"; do run "$suite"; done

t0=$SECONDS
if wait "$setup_pid"; then
  trap - EXIT
  cat "$setup_log"
  echo "test.sh: setup done $((SECONDS - start)) s after the start (waited $((SECONDS - t0)) s for it)"
  for suite in "${cluster[@]}"; do run "$suite"; done
else
  trap - EXIT
  tail -n 40 "$setup_log"
  echo "test.sh: setup failed (log: $setup_log); not running: ${cluster[*]:-nothing}"
  for suite in "${cluster[@]}"; do failed=$((failed + 1)); failures+=("$(basename "$suite" .sh)"); done
fi
echo "test.sh: $((SECONDS - start)) s in all; failed suites: ${failures[*]:-none}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
