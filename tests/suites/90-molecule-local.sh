#!/usr/bin/env bash
# molecule `local`: site.yml with inventories/local on the local control plane: converge,
# idempotence (changed=0), verify (testinfra, check-mode changed=0, no secret in -vvv output).
# seconds: 842 (cold run of 4339490; scripts/test.sh starts the longest first)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"
bash tests/cluster/build.sh
molecule test -s local
