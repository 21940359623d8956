#!/usr/bin/env bash
# The local control plane: versions, Ready node, rollouts, PVC binding, LB stand-in, Helm 4,
# idempotent start/stop and the errors that name a failing component.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"
bash tests/cluster/build.sh
python -m pytest -p no:cacheprovider tests/cluster/tests
