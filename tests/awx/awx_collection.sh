#!/usr/bin/env bash
# Prints a collections path holding awx.awx, for lint and syntax checks of playbooks/awx_configure.yml.
# awx.awx left the `ansible` package in version 14 and Galaxy is unreachable in CI, but the
# ansible==13.8.0 wheel on PyPI still carries ansible_collections/awx/awx (24.6.1): take that
# directory only, into a version-keyed cache outside the repository. It is never put on the
# collections path of the product runs.
set -euo pipefail
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
wheel_version=13.8.0
dest=$cache/awx-collection-from-ansible-$wheel_version
if [ ! -f "$dest/.done" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/.awx-collection.lock"; flock 9
  if [ ! -f "$dest/.done" ]; then
    root=$(cd "$(dirname "$0")/../.." && pwd)
    venv=$(bash "$root/scripts/venv.sh")
    tmp=$(mktemp -d "$cache/.awx-collection.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps "ansible==$wheel_version" -d "$tmp/wheel" >&2
    "$venv/bin/python" - "$tmp/wheel/ansible-$wheel_version-py3-none-any.whl" "$tmp/out" <<'PY'
import sys
import zipfile

wheel, out = sys.argv[1], sys.argv[2]
prefix = "ansible_collections/awx/awx/"
with zipfile.ZipFile(wheel) as z:
    members = [n for n in z.namelist() if n.startswith(prefix)]
    if not any(n == prefix + "MANIFEST.json" for n in members):
        sys.exit(f"{wheel} holds no awx.awx collection")
    z.extractall(out, members)
PY
    rm -rf "$dest"
    mv "$tmp/out" "$dest"
    touch "$dest/.done"
  fi
fi
echo "$dest"
