#!/usr/bin/env bash
# Unit tests of module_utils, modules and filters (pytest, no servers).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$(bash scripts/venv.sh)/bin:$PATH"
python -m pytest tests/unit
