#!/usr/bin/env bash
# Static checks: ansible-lint (production profile), yamllint, ruff, argument specs equal to
# defaults, role READMEs current, changelog fragments valid, ansible-test sanity.
# lane: host
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"
failed=0
step() { echo "== static: $1"; shift; if "$@"; then echo "-- ok"; else echo "-- FAILED: $*"; failed=$((failed + 1)); fi; }

step yamllint yamllint --strict .
step ruff ruff check .
step "ruff format" ruff format --check .
step "argument specs = defaults" python tests/static/check_argument_specs.py
step "role READMEs" python tests/static/role_readme.py --check
step "changelog fragments" antsibull-changelog lint
# awx.awx (for playbooks/awx_configure.yml) is not in the ansible package; see tests/awx/.
step ansible-lint env ANSIBLE_COLLECTIONS_PATH="$(bash tests/awx/awx_collection.sh):$PWD/.collections" ansible-lint
step "ansible-test sanity" bash tests/static/sanity.sh
echo "static: $((8 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
