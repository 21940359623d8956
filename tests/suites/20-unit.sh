#!/usr/bin/env bash
# Unit tests of module_utils, modules and filters (pytest, no servers).
# lane: host
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=$(bash scripts/venv.sh)
export PATH="$venv/bin:$PATH"
python -m pytest tests/unit
