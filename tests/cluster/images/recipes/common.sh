# Helpers shared by the image recipes. Sourced by build.sh, not executed.
# shellcheck shell=bash
# Set by build.sh around each recipe: $name, $version, $image_dir (the cache directory), $work
# (a scratch directory removed afterwards).
# shellcheck disable=SC2154

# IMAGES_DEBIAN_SUITE (versions.env): the Debian release every image is built from.
: "${DEBIAN_MIRROR:=http://deb.debian.org/debian}"
: "${DEBIAN_SECURITY_MIRROR:=http://deb.debian.org/debian-security}"
: "${PYTHON:=python3}"

IMAGE_DESCRIPTION="Built locally by the mlflow-k8s tests (tests/cluster/images) from Debian packages, PyPI \
and Go modules; not the upstream image"

# step <what>: names the part of the recipe that runs now, for the error message if it fails.
step() {
  printf '%s\n' "$*" >"$work/.step"
  printf '== %s\n' "$*"
}

# mmdebstrap_rootfs <target> [mmdebstrap options...]: a minbase root filesystem of
# $IMAGES_DEBIAN_SUITE with its updates and security fixes, without manuals, docs (copyright
# files stay) and translations.
mmdebstrap_rootfs() {
  local target=$1; shift
  local suite=$IMAGES_DEBIAN_SUITE
  mmdebstrap --mode=root --variant=minbase --format=directory \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
    "$@" "$suite" "$target" \
    "deb $DEBIAN_MIRROR $suite main" "deb $DEBIAN_MIRROR $suite-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $suite-security main"
}

# debian_version <rootfs> <package>: the installed version of a package in a root filesystem.
debian_version() {
  dpkg-query --admindir="$1/var/lib/dpkg" -W -f '${Version}' "$2"
}

# pack_image <tag> [pack.py options...]: packs $work/rootfs as localhost/mlflow-k8s/$name:<tag>.
pack_image() {
  local tag=$1; shift
  local ref=localhost/mlflow-k8s/$name:$tag
  step "pack $ref"
  "$PYTHON" "$images_dir/pack.py" --rootfs "$work/rootfs" --ref "$ref" --out "$image_dir/image.tar" \
    --label "org.opencontainers.image.title=$name" --label "org.opencontainers.image.version=$tag" \
    --label "org.opencontainers.image.description=$IMAGE_DESCRIPTION" \
    --label "io.mlflow-k8s.inputs=$(basename "$image_dir")" "$@" >"$image_dir/image-id"
  printf '%s\n' "$ref" >"$image_dir/ref"
  du -s --block-size=1 --apparent-size "$work/rootfs" | cut -f1 >"$image_dir/rootfs-bytes"
}

# clean_rootfs <rootfs>: drops what mmdebstrap leaves that is the build host's or the build's
# (the host's resolver and hostname, logs with build times, caches), so it is not in the image.
clean_rootfs() {
  local r=$1
  step "clean the root filesystem"
  # Empty files the runtime mounts over (a read-only root may need the mount points).
  # Removed first: written through, a symlink there would point at the build host's file.
  rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
  install -m 0644 /dev/null "$r/etc/resolv.conf"
  install -m 0644 /dev/null "$r/etc/hostname"
  find "$r/var/log" -mindepth 1 -delete
  rm -rf "$r/var/cache/ldconfig/aux-cache" "$r"/var/lib/dpkg/*-old "$r"/var/cache/debconf/*-old "$r/root/.cache"
}
