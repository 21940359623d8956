#!/usr/bin/env bash
# Sets up and runs every test: static checks, unit tests, modules against real MLflow servers,
# role tests, end-to-end SSO, molecule `local` on the local cluster.
# Usage: bash scripts/test.sh [suite-name-substring ...]
#
# Two kinds of suites share the machine:
# - "# lane: host" suites need no cluster. They run one at a time from the start, while the
#   cluster and its images build in the background (on a new machine that build is the longest
#   step; on two cores a go build leaves CPU idle that they fill).
# - The others each start a cluster of their own once that build is done. They mostly wait for
#   pods and rollouts (a cold run measured the machine 72 % idle while they ran one at a time),
#   so they run side by side: MLFLOW_K8S_TEST_LANES (default 3) suites at once, a running host
#   suite included (on a warm machine the build is done at once), lane k with the state
#   directory /var/tmp/mlflow-k8s-lane-k and host ports 2k043 (API server), 2k050 (MLflow),
#   2k080 (oauth2-proxy), 2k081 (fake GitHub). With 1 lane they keep the caller's environment
#   (e.g. a developer's running cluster). The longest start first (their "# seconds:" line,
#   from a cold run) so that the lanes end together.
# Each suite's output is printed whole when it ends; meanwhile it is in
# $MLFLOW_K8S_CACHE/suite-logs/<suite>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
lanes=${MLFLOW_K8S_TEST_LANES:-3}
[[ $lanes =~ ^[1-9]$ ]] || { echo "ERROR: MLFLOW_K8S_TEST_LANES must be an integer from 1 to 9 (lane k uses host ports 2k0xx), not '$lanes'" >&2; exit 2; }
bash scripts/setup.sh --host
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
setup_log=$cache/setup.log suite_logs=$cache/suite-logs
mkdir -p "$suite_logs"

host=() cluster=()
for suite in tests/suites/*.sh; do
  name=$(basename "$suite" .sh)
  if [ $# -gt 0 ]; then
    match=0; for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  if grep -qx '# lane: host' "$suite"; then host+=("$suite"); else cluster+=("$suite"); fi
done
mapfile -t cluster < <(for suite in "${cluster[@]}"; do
  printf '%s %s\n' "$(sed -n 's/^# seconds: \([0-9]*\).*/\1/p' "$suite" | head -n 1)" "$suite"
done | sort -k1,1nr | cut -d' ' -f2-)

# What runs: pid -> "setup", "host" or the lane number; the suite's name and start time.
declare -A slot_of=() name_of=() t0_of=()
stop_all() { # on an interrupt: the build's process group; each suite stops its own cluster on SIGTERM
  local pid
  for pid in "${!slot_of[@]}"; do
    if [ "${slot_of[$pid]}" = setup ]; then kill -TERM -- "-$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${!slot_of[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# A process group of its own, so that stopping this script stops the go builds too.
setsid bash scripts/setup.sh --tests >"$setup_log" 2>&1 &
slot_of[$!]=setup t0_of[$!]=$SECONDS
echo "test.sh: building the cluster and the images in the background (log: $setup_log)"

lane_env() { # lane_env <k>: the environment of lane k's clusters
  [ "$lanes" -gt 1 ] || return 0
  export MLFLOW_K8S_STATE=/var/tmp/mlflow-k8s-lane-$1 MLFLOW_K8S_APISERVER_PORT=2${1}043 \
    MLFLOW_K8S_MLFLOW_PORT=2${1}050 MLFLOW_K8S_SSO_PORT=2${1}080 MLFLOW_K8S_GITHUB_PORT=2${1}081
  unset KUBECONFIG K8S_AUTH_KUBECONFIG
}
launch() { # launch <suite> <slot>
  local name
  name=$(basename "$1" .sh)
  if [ "$2" = host ]; then
    bash "$1" >"$suite_logs/$name.log" 2>&1 &
  else
    (lane_env "$2"; exec bash "$1") >"$suite_logs/$name.log" 2>&1 &
  fi
  slot_of[$!]=$2 name_of[$!]=$name t0_of[$!]=$SECONDS
  echo "=================== suite $name: started ($([ "$2" = host ] && echo "host lane" || echo "lane $2"), log: $suite_logs/$name.log)"
}

passed=0; failed=0; failures=()
host_free=1 free_lanes=()
while [ ${#host[@]} -gt 0 ] || [ ${#cluster[@]} -gt 0 ] || [ ${#slot_of[@]} -gt 0 ]; do
  if [ "$host_free" = 1 ] && [ ${#host[@]} -gt 0 ]; then
    launch "${host[0]}" host; host=("${host[@]:1}") host_free=0
  fi
  # A running host suite takes one of the $lanes places: a warm run that ran it beside three
  # cluster suites on 2 cores measured a run queue of 13 and took longer than a cold run.
  while [ ${#cluster[@]} -gt 0 ] && [ ${#free_lanes[@]} -gt 0 ] && [ $((${#free_lanes[@]} - (1 - host_free))) -gt 0 ]; do
    launch "${cluster[0]}" "${free_lanes[0]}"; cluster=("${cluster[@]:1}") free_lanes=("${free_lanes[@]:1}")
  done
  [ ${#slot_of[@]} -gt 0 ] || break
  rc=0; wait -n -p pid "${!slot_of[@]}" || rc=$?
  slot=${slot_of[$pid]} took=$((SECONDS - t0_of[$pid]))
  unset "slot_of[$pid]"
  if [ "$slot" = setup ]; then
    if [ "$rc" -eq 0 ]; then
      cat "$setup_log"
      echo "test.sh: setup done $((SECONDS - start)) s after the start"
      mapfile -t free_lanes < <(seq 1 "$lanes")
    else
      tail -n 40 "$setup_log"
      echo "test.sh: setup failed (log: $setup_log); not running: ${cluster[*]:-nothing}"
      for suite in "${cluster[@]}"; do failed=$((failed + 1)); failures+=("$(basename "$suite" .sh)"); done
      cluster=()
    fi
    continue
  fi
  name=${name_of[$pid]}
  if [ "$slot" = host ]; then host_free=1; where="host lane"; else free_lanes+=("$slot"); where="lane $slot"; fi
  echo "=================== suite $name"
  cat "$suite_logs/$name.log"
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); echo "=================== suite $name: ok ($took s, $where)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=================== suite $name: FAILED ($took s, $where)"
  fi
done
trap - EXIT
echo "test.sh: $((SECONDS - start)) s in all; failed suites: ${failures[*]:-none}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
