#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Builds the local control plane from Go modules and caches it outside the repository.
# Idempotent: a component whose cache directory is complete is not rebuilt.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "the Go toolchain is missing: install Go >= 1.26 (go.dev/doc/install) and put 'go' on PATH"
export GOTOOLCHAIN=local CGO_ENABLED=0
# A module the proxy lacks must fail at once, not fall back to fetching from its VCS host.
GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%%,direct}
export GOFLAGS="-trimpath -mod=readonly"
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"; flock 9

build() { # build <component> <cache dir> <ldflags> <package>...
  local name=$1 dir=$2 ldflags=$3; shift 3
  if [ -f "$dir/.done" ]; then log "$name: cached in $dir"; return; fi
  mkdir -p "$dir/bin"; local logf=$dir/build.log start=$SECONDS
  log "$name: building (log: $logf)"
  if ! (cd "$here/gomod/$name" && go mod download >"$logf" 2>&1); then
    tail -n 20 "$logf" >&2; die "$name: Go module download failed; see $logf (is the Go module proxy '$GOPROXY' reachable?)"
  fi
  if ! (cd "$here/gomod/$name" && go build -p "$(nproc)" -ldflags "-s -w $ldflags" -o "$dir/bin/" "$@" >>"$logf" 2>&1); then
    tail -n 20 "$logf" >&2; die "$name: go build failed; see $logf"
  fi
  log "$name: built in $((SECONDS - start)) s"
  touch "$dir/.done"
}

stamp=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $p.gitVersion=v$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
  stamp+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
build kubernetes "$k8s_dir" "$stamp" k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
build etcd "$etcd_dir" "" go.etcd.io/etcd/server/v3
# go names the binary of module path .../server/v3 "server".
[ -x "$etcd_dir/bin/etcd" ] || mv "$etcd_dir/bin/server" "$etcd_dir/bin/etcd"
build helm "$helm_dir" "-X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" helm.sh/helm/v4/cmd/helm
build kwok "$kwok_dir" "" sigs.k8s.io/kwok/cmd/kwok

# KWOK 0.8 ships no built-in stages; take the upstream ones from the same module version.
if [ ! -f "$kwok_dir/stages.yaml" ]; then
  src=$(cd "$here/gomod/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
           pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    [ -f "$src/$f.yaml" ] || die "kwok: stage $f.yaml missing from $src"
    cat "$src/$f.yaml"; echo "---"
  done >"$kwok_dir/stages.yaml.tmp"
  mv "$kwok_dir/stages.yaml.tmp" "$kwok_dir/stages.yaml"
fi

mkdir -p "$BIN_DIR"
for b in "$k8s_dir"/bin/* "$etcd_dir/bin/etcd" "$helm_dir/bin/helm" "$kwok_dir/bin/kwok"; do
  ln -sfn "$b" "$BIN_DIR/$(basename "$b")"
done
log "binaries in $BIN_DIR"
