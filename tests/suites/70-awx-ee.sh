#!/usr/bin/env bash
# AWX job templates, surveys and credentials as data, checked against the argument specs of
# the roles and playbooks they feed; playbooks/awx_configure.yml linted and validated with the
# real awx.awx (extracted from the ansible 13.8.0 wheel into the cache, no AWX server);
# `ansible-builder create` of the execution environment; documentation tooling: the role README
# generator, ansible-doc of every module, an antsibull-changelog build.
# Cold: ~1.5 min (one 55 MB wheel download); warm: ~1 min.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PATH="$(bash scripts/venv.sh)/bin:$PATH"
export PATH
bash tests/awx/awx_collection.sh >/dev/null
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python -m pytest -p no:cacheprovider -q -o console_output_style=classic tests/awx "$@" &
pid=$!
wait "$pid"
