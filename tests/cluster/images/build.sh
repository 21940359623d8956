#!/usr/bin/env bash
# Builds the images the local node's pods run, from Debian packages, PyPI and Go binaries, as
# docker-archive tars for `ctr -n k8s.io images import`. No registry is involved and every ref
# is localhost/mlflow-k8s/<name>:<version>, never an upstream registry's name.
#
#   bash tests/cluster/images/build.sh [name...]     (default: all images)
#
# Prints one line per built image on stdout: "<image ref> <tar path>". Each image is cached in
# $CACHE_ROOT/images/<name>-<version>-<hash12>/ (image.tar, ref, inputs.txt, build.log, .done);
# hash12 covers what goes into the image (recipe files, pins, sha256 of input binaries), so a
# second run rebuilds nothing and a changed pin or recipe rebuilds only its image. Debian and PyPI
# packages not pinned here come as they are on the day of the build. Every requested image is
# tried; the exit status is non-zero if any failed (e.g. an input binary not built yet).
# lib.sh (sourced) assigns $here, $CACHE_ROOT and the pins; shellcheck runs without -x here.
# The recipes assign what build.sh reads (version) and read what it sets (image_dir, work).
# shellcheck disable=SC2154,SC2034,SC1091
set -euo pipefail
# Command substitutions fail the script too (a missing input must not hash as empty).
shopt -s inherit_errexit
images_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$images_dir/../lib.sh"
# shellcheck source=recipes/common.sh
. "$images_dir/recipes/common.sh"
for recipe in pause static mlflow postgres toolbox; do
  # shellcheck source=/dev/null
  . "$images_dir/recipes/$recipe.sh"
done

ALL_IMAGES=(pause oauth2-proxy coredns cert-manager-controller cert-manager-webhook cert-manager-cainjector
  cert-manager-acmesolver cert-manager-startupapicheck postgres mlflow toolbox)
images_cache=$CACHE_ROOT/images

# spec <name>: sets kind, version (cache directory and default tag), inputs (files whose content
# the hash covers) and pins (KEY=VALUE lines the hash covers). Fails if an input is missing.
spec() {
  local name=$1
  inputs=("$images_dir/pack.py" "$images_dir/recipes/common.sh")
  pins=("IMAGES_DEBIAN_SUITE=$IMAGES_DEBIAN_SUITE" "DEBIAN_MIRROR=$DEBIAN_MIRROR")
  # `|| return 1` each time: build_one calls spec in a condition, where errexit does not apply.
  case $name in
    pause) kind=pause; spec_pause || return 1 ;;
    oauth2-proxy | coredns | cert-manager-*) kind=static; spec_static "$name" || return 1 ;;
    mlflow) kind=mlflow; spec_mlflow || return 1 ;;
    postgres) kind=postgres; spec_postgres || return 1 ;;
    toolbox) kind=toolbox; spec_toolbox || return 1 ;;
    *) echo "ERROR: image $name: unknown image; known: ${ALL_IMAGES[*]}" >&2; return 1 ;;
  esac
  inputs+=("$images_dir/recipes/$kind.sh")
}

# The list of what the hash covers, kept beside the image so a rebuild can be explained.
inputs_text() {
  local f
  printf 'pin %s\n' "${pins[@]}"
  for f in "${inputs[@]}"; do
    printf 'file %s %s\n' "${f#"$images_dir/"}" "$(sha256sum <"$f" | cut -d' ' -f1)"
  done
}

# build_one <name>: prints "<ref> <tar>" once the image is cached.
build_one() {
  local name=$1 kind version inputs pins
  spec "$name" || return 1
  local text hash dir
  text=$(inputs_text)
  hash=$(sha256sum <<<"$text" | cut -c1-12)
  dir=$images_cache/$name-$version-$hash
  mkdir -p "$images_cache"
  # One builder per image: a second build.sh waits and then finds the image cached.
  exec {lock}>"$images_cache/.$name.lock"
  flock "$lock"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir" "$dir.work"
    mkdir -p "$dir" "$dir.work"
    printf '%s\n' "$text" >"$dir/inputs.txt"
    log "image $name: building (log: $dir/build.log)"
    local start=$SECONDS
    # Run as a background job: a subshell tested by `if` would run with errexit switched off.
    (cd "$dir.work"; image_dir=$dir; work=$dir.work; "build_$kind" "$name") >"$dir/build.log" 2>&1 &
    if ! wait $!; then
      tail -n 15 "$dir/build.log" >&2
      echo "ERROR: image $name: $(cat "$dir.work/.step" 2>/dev/null || echo build) failed; see $dir/build.log" >&2
      rm -rf "$dir.work"
      exec {lock}>&-
      return 1
    fi
    rm -rf "$dir.work"
    touch "$dir/.done"
    log "image $name: built in $((SECONDS - start)) s ($(du -h "$dir/image.tar" | cut -f1))"
  fi
  # A use marks the build as live. Other builds of this image unused for a day are dead weight
  # (an MLflow image is near 1 GB); younger ones may belong to another checkout sharing the cache.
  touch "$dir/.done"
  local other
  for other in "$images_cache/$name-"*/; do
    other=${other%/}
    [ "$other" != "$dir" ] && [ -f "$other/.done" ] && [ -z "$(find "$other/.done" -mmin -1440)" ] && rm -rf "$other"
  done

  exec {lock}>&-
  printf '%s %s\n' "$(cat "$dir/ref")" "$dir/image.tar"
}

main() {
  [ "$(id -u)" = 0 ] || die "images: root is needed (mmdebstrap in root mode, owners kept in the layers)"
  [ $# -gt 0 ] || set -- "${ALL_IMAGES[@]}"
  local failed=() name
  for name in "$@"; do
    # A job, not `build_one || ...`: errexit stays in force inside it only outside a condition.
    build_one "$name" &
    wait $! || failed+=("$name")
  done
  [ ${#failed[@]} -eq 0 ] || die "images not built: ${failed[*]}"
}

# Parsed whole before it runs, so editing this file during a long build cannot derail it.
main "$@"
exit
