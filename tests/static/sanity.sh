#!/usr/bin/env bash
# Runs `ansible-test sanity` offline on a copy of the collection laid out under
# ansible_collections/mlflow_k8s/platform. ansible-test bootstraps pip in each test venv with a
# script it downloads from a host that is unreachable here; we put a stand-in at the cache path
# it checks first: it installs pip from the exact wheel version ansible-test pins (from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
venv=$(bash "$root/scripts/venv.sh")
export PATH="$venv/bin:$PATH"

at=$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',$/\1/p" "$at/_internal/python_requirements.py" | head -n1)
[ -n "$pip_version" ] || { echo "ERROR: cannot read the pip version ansible-test pins from $at" >&2; exit 1; }
wheels=$cache/pip-wheel-$pip_version
if ! ls "$wheels"/pip-*.whl >/dev/null 2>&1; then
  pip download --quiet --no-deps --dest "$wheels" "pip==$pip_version"
fi
wheel=$(ls "$wheels"/pip-*.whl)
stand_in=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$stand_in")"
cat >"$stand_in" <<PY
# Offline stand-in for get-pip.py, written by tests/static/sanity.sh.
import runpy
import sys

sys.path.insert(0, "$wheel")
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade", "--force-reinstall", *args]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/mlflow_k8s/platform
mkdir -p "$dest"
(cd "$root" && git ls-files -co --exclude-standard | grep -v '^\.collections/' | while read -r f; do [ -e "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -t "$dest")
# k8s_generated_secret imports kubernetes.core's module_utils; ansible-test resolves other
# collections only inside the ansible_collections tree of the collection under test.
k8s_core=$(python -c 'import ansible, os; print(os.path.join(os.path.dirname(os.path.dirname(ansible.__file__)), "ansible_collections/kubernetes/core"))')
mkdir -p "$work/ansible_collections/kubernetes"
cp -r "$k8s_core" "$work/ansible_collections/kubernetes/core"
(cd "$dest" && git init -q && git add -A && git -c user.email=ci@local -c user.name=ci commit -qm sanity)
cd "$dest"
ansible-test sanity --local --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
