#!/usr/bin/env bash
# The local cluster: its real node (pods, volumes, Services, DNS, NetworkPolicy, restart, a second
# cluster beside it, the host untouched), the control plane, KWOK opt-in, the images built here
# run under runc, cert-manager's binaries against the API server, and the errors that name a
# failing component. Runs a cluster of its own beside any other.
# seconds: 252 (cold run of 4339490; scripts/test.sh starts the longest first)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"
bash tests/cluster/build.sh
# Our cert-manager main packages: every flag the chart renders sets what upstream's sets. Built
# with build.sh's settings, so the packages it compiled come from the Go build cache (with other
# settings a cold run compiled all of cert-manager again: 270 s).
(cd tests/cluster/gomod/cert-manager && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly" go test ./...)
python -m pytest -p no:cacheprovider -q -o console_output_style=classic --durations=5 tests/cluster/tests
