#!/usr/bin/env bash
# Sets up and runs every test: static checks, unit tests, modules against real MLflow servers,
# role tests, end-to-end SSO, molecule `local` on the local control plane.
# Usage: bash scripts/test.sh [suite-name-substring ...]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash scripts/setup.sh --tests
passed=0; failed=0; failures=()
for suite in tests/suites/*.sh; do
  name=$(basename "$suite" .sh)
  if [ $# -gt 0 ]; then
    match=0; for want in "$@"; do [[ $name == *"$want"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  t0=$SECONDS
  echo "=================== suite $name"
  if bash "$suite"; then
    passed=$((passed + 1)); echo "=================== suite $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=================== suite $name: FAILED ($((SECONDS - t0)) s)"
  fi
done
echo "test.sh: $((SECONDS - start)) s in all; failed suites: ${failures[*]:-none}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
