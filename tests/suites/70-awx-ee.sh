#!/usr/bin/env bash
# AWX job templates, surveys and credentials as data, checked against the argument specs of
# the roles and playbooks they feed; playbooks/awx_configure.yml linted and validated with the
# real awx.awx (extracted from the ansible 13.8.0 wheel into the cache) and applied to a
# stateful stand-in for the AWX API (no AWX server can run here);
# `ansible-builder create` of the execution environment; documentation tooling: the role README
# generator, ansible-doc of every module, an antsibull-changelog build.
# Cold: ~3 min (one 55 MB wheel download); warm: ~2.5 min (about twice that on a loaded machine).
# lane: host
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
