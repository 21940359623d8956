#!/usr/bin/env bash
# mmdebstrap customize hook of the mlflow image: installs the virtualenv /opt/mlflow into the
# root filesystem $1. Expects $work, $image_dir, $MLFLOW_VERSION and $mlflow_constraints from
# recipes/mlflow.sh.
set -euo pipefail
root=$1
: "${work:?}" "${image_dir:?}" "${MLFLOW_VERSION:?}" "${mlflow_constraints:?}"
here=$(cd "$(dirname "$0")" && pwd)
printf 'pip install mlflow[auth]==%s into /opt/mlflow\n' "$MLFLOW_VERSION" >"$work/.step"
# The build host's bundle, for PyPI through whatever TLS proxy the host trusts; removed below,
# the image keeps Debian's bundle only.
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/tmp/build-ca.crt"
install -m 0644 "$here/requirements.txt" "$root/tmp/requirements.txt"
constraints=()
if [ -f "$mlflow_constraints" ]; then
  install -m 0644 "$mlflow_constraints" "$root/tmp/constraints.txt"
  constraints=(-c /tmp/constraints.txt)
fi
# A clean environment: nothing of the host's pip configuration (find-links, caches) leaks in.
in_root() {
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_CERT=/tmp/build-ca.crt PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "$@"
}
in_root python3 -m venv /opt/mlflow
# --no-compile: bytecode is compiled below, in a form the fixed layer mtimes do not invalidate.
in_root /opt/mlflow/bin/pip install --no-compile "mlflow[auth]==$MLFLOW_VERSION" -r /tmp/requirements.txt "${constraints[@]}"
in_root /opt/mlflow/bin/pip freeze >"$image_dir/pip-freeze.txt"
printf 'compile bytecode\n' >"$work/.step"
# The packer gives every file the same mtime, which would make timestamp-checked .pyc files
# stale (recompiled in memory at every start on a read-only root); unchecked-hash ones are not.
trees=(/usr/lib/python3 /opt/mlflow/lib)
for d in "$root"/usr/lib/python3.*; do trees+=("${d#"$root"}"); done
for d in "${trees[@]}"; do find "$root$d" -name __pycache__ -type d -prune -exec rm -rf {} +; done
in_root python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash "${trees[@]}" >/dev/null
rm -rf "$root/tmp/build-ca.crt" "$root/tmp/requirements.txt" "$root/tmp/constraints.txt" "$root/root/.cache"
