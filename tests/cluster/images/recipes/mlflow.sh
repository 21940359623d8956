# The MLflow tracking server image: Debian minbase with python3 and a virtualenv holding
# mlflow[auth]==$MLFLOW_VERSION plus mlflow/requirements.txt. Sourced by build.sh.
# shellcheck shell=bash
# shellcheck disable=SC2154

spec_mlflow() {
  command -v mmdebstrap >/dev/null || { echo "ERROR: image mlflow: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; return 1; }
  version=v$MLFLOW_VERSION
  pins+=("MLFLOW_VERSION=$MLFLOW_VERSION")
  inputs+=("$images_dir/mlflow/requirements.txt" "$images_dir/mlflow/install-venv.sh")
  # Every package version of a release, frozen from its first build; without the file pip
  # resolves afresh (and the build leaves pip-freeze.txt to commit as the file).
  mlflow_constraints=$images_dir/mlflow/constraints-$MLFLOW_VERSION.txt
  [ ! -f "$mlflow_constraints" ] || inputs+=("$mlflow_constraints")
}

build_mlflow() {
  step "mmdebstrap $IMAGES_DEBIAN_SUITE minbase with python3 and the MLflow virtualenv"
  export work image_dir MLFLOW_VERSION mlflow_constraints
  mmdebstrap_rootfs "$work/rootfs" --include=python3,python3-venv,ca-certificates \
    --customize-hook="bash '$images_dir/mlflow/install-venv.sh' \"\$1\""
  clean_rootfs "$work/rootfs"
  local python
  python=$(readlink "$work/rootfs/usr/bin/python3")
  # The role runs `mlflow` as uid 10001 with HOME=/tmp; the upstream image would run as root.
  pack_image "$version" --cmd '["python3"]' --user 10001:10001 --workdir / --expose 5000/tcp \
    --env "PATH=/opt/mlflow/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --env LANG=C.UTF-8 --env VIRTUAL_ENV=/opt/mlflow \
    --label "io.mlflow-k8s.python=$python $(debian_version "$work/rootfs" "$python")" \
    --label "io.mlflow-k8s.debian-suite=$IMAGES_DEBIAN_SUITE"
}
