#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Builds the local cluster from Go modules and caches it outside the repository: the control
# plane, the real node (containerd, CNI plugins, kubelet, kube-proxy, CoreDNS, kube-router),
# oauth2-proxy, Helm and KWOK, and fetches the upstream charts (charts.sh). The images the
# cluster runs are built from these by images/build.sh.
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

build() { # build <component> <cache dir> <wrapper module> <ldflags> <build tags> <package>...
  local name=$1 dir=$2 mod=$here/gomod/$3 ldflags=$4 tags=$5; shift 5
  if [ -f "$dir/.done" ] && [ -n "$(ls -A "$dir/bin" 2>/dev/null)" ]; then log "$name: cached in $dir"; return; fi
  mkdir -p "$dir/bin"; local logf=$dir/build.log start=$SECONDS
  log "$name: building (log: $logf)"
  if ! (cd "$mod" && go mod download >"$logf" 2>&1); then
    tail -n 20 "$logf" >&2; die "$name: Go module download failed; see $logf (is the Go module proxy '$GOPROXY' reachable?)"
  fi
  if ! (cd "$mod" && go build -p "$(nproc)" -tags "$tags" -ldflags "-s -w $ldflags" -o "$dir/bin/" "$@" >>"$logf" 2>&1); then
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

# Two lanes side by side: on two cores one go build leaves a core idle while it type-checks a
# large package alone, links or downloads, and the other lane fills it. Kubernetes alone is as
# long as all the rest together.
kubernetes_lane() {
  build kubernetes "$k8s_dir" kubernetes "$stamp" "" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  # The node's Kubernetes binaries come from the same wrapper module, so they share its build cache.
  build kubelet "$kubelet_dir" kubernetes "$stamp" "" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}
other_lane() {
  bash "$here/charts.sh"
  build etcd "$etcd_dir" etcd "" "" go.etcd.io/etcd/server/v3
  # go names the binary of module path .../server/v3 "server".
  [ -x "$etcd_dir/bin/etcd" ] || mv "$etcd_dir/bin/server" "$etcd_dir/bin/etcd"
  build containerd "$containerd_dir" containerd \
    "-X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION" "no_btrfs no_devmapper no_zfs" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr
  build cni-plugins "$cni_dir" cni-plugins \
    "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$CNI_PLUGINS_VERSION" "" \
    github.com/containernetworking/plugins/plugins/main/bridge github.com/containernetworking/plugins/plugins/ipam/host-local \
    github.com/containernetworking/plugins/plugins/main/loopback github.com/containernetworking/plugins/plugins/meta/portmap
  build coredns "$coredns_dir" coredns "" "" mlflow-k8s.local/cluster/coredns
  build kube-router "$kube_router_dir" kube-router \
    "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v$KUBE_ROUTER_VERSION" "" \
    github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  # Our own main packages over cert-manager's library module (the proxy does not serve the nested
  # binary modules); stamped as upstream's release build stamps them.
  build cert-manager "$cert_manager_dir" cert-manager \
    "-X github.com/cert-manager/cert-manager/pkg/util.AppVersion=v$CERT_MANAGER_VERSION" "" \
    ./controller ./webhook ./cainjector ./acmesolver ./startupapicheck
  build oauth2-proxy "$oauth2_proxy_dir" oauth2-proxy \
    "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=v$OAUTH2_PROXY_VERSION" "" github.com/oauth2-proxy/oauth2-proxy/v7
  build helm "$helm_dir" helm "-X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" "" helm.sh/helm/v4/cmd/helm
  build kwok "$kwok_dir" kwok "" "" sigs.k8s.io/kwok/cmd/kwok
}
lanes=()
kubernetes_lane & lanes+=($!)
other_lane & lanes+=($!)
failed=0
for lane in "${lanes[@]}"; do wait "$lane" || failed=1; done
# Each lane has named its failing component and log already.
[ "$failed" = 0 ] || die "the cluster build failed (see the ERROR above)"

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
for b in "$k8s_dir"/bin/* "$kubelet_dir"/bin/* "$etcd_dir/bin/etcd" "$containerd_dir"/bin/* "$coredns_dir/bin/coredns" \
         "$kube_router_dir/bin/kube-router" "$helm_dir/bin/helm" "$kwok_dir/bin/kwok"; do
  ln -sfn "$b" "$BIN_DIR/$(basename "$b")"
done
log "binaries in $BIN_DIR"
