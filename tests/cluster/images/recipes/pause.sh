# The sandbox ("pause") image: Kubernetes' own build/pause/linux/pause.c from the
# k8s.io/kubernetes module zip the control plane is built from, compiled static. Sourced by build.sh.
# shellcheck shell=bash
# shellcheck disable=SC2154

spec_pause() {
  command -v go >/dev/null || { echo "ERROR: image pause: the Go toolchain is missing (it fetches the k8s.io/kubernetes module zip)" >&2; return 1; }
  command -v gcc >/dev/null || { echo "ERROR: image pause: gcc is missing (apt-get install gcc libc6-dev)" >&2; return 1; }
  local src
  # The module zip is checksum-pinned by the wrapper module's go.sum.
  src=$(cd "$here/gomod/kubernetes" && GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
        go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
    || { echo "ERROR: image pause: go mod download k8s.io/kubernetes@v$KUBERNETES_VERSION failed (is the Go module proxy reachable?)" >&2; return 1; }
  pause_src=$src/build/pause
  [ -f "$pause_src/linux/pause.c" ] || { echo "ERROR: image pause: $pause_src/linux/pause.c is missing from the module zip" >&2; return 1; }
  # The upstream image tag is the Makefile's TAG.
  version=$(sed -n 's/^TAG ?= *//p' "$pause_src/Makefile")
  [ -n "$version" ] || { echo "ERROR: image pause: no TAG in $pause_src/Makefile" >&2; return 1; }
  inputs+=("$pause_src/linux/pause.c" "$pause_src/Makefile")
  pins+=("KUBERNETES_VERSION=$KUBERNETES_VERSION" "gcc=$(gcc -dumpfullversion)")
}

build_pause() {
  step "compile pause.c"
  mkdir -p rootfs
  # The upstream Makefile's flags; its VERSION suffix is a git revision, which a module zip lacks.
  gcc -Os -Wall -Werror -static -DVERSION="v$version" -o rootfs/pause "$pause_src/linux/pause.c"
  strip rootfs/pause
  chmod 0755 rootfs/pause
  # As upstream: FROM scratch, the binary alone, an unnamed non-root user.
  pack_image "$version" --entrypoint '["/pause"]' --user 65535:65535
}
