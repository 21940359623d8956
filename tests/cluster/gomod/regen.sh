#!/usr/bin/env bash
# Regenerates the wrapper Go modules after a version bump in ../versions.env.
# k8s.io/kubernetes maps its staging modules (k8s.io/api, ...) to ./staging with replace
# directives that do not apply to a consumer; each is pinned to its published v0.<minor>.<patch>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
. "$here/../versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%%,direct}

fresh() { rm -f "$here/$1/go.mod" "$here/$1/go.sum"; printf 'module mlflow-k8s.local/cluster/%s\n\ngo 1.26.0\n' "$1" >"$here/$1/go.mod"; }

fresh kubernetes
cd "$here/kubernetes"
gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | while read -r m; do
  go mod edit -replace="$m=$m@v0.${KUBERNETES_VERSION#1.}"
done
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
  go get -tool "k8s.io/kubernetes/cmd/$c@v$KUBERNETES_VERSION"
done

fresh etcd; (cd "$here/etcd" && go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION")
fresh kwok; (cd "$here/kwok" && go get -tool "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION")
fresh helm; (cd "$here/helm" && go get -tool "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION")

fresh containerd
for c in containerd containerd-shim-runc-v2 ctr; do
  (cd "$here/containerd" && go get -tool "github.com/containerd/containerd/v2/cmd/$c@v$CONTAINERD_VERSION")
done
fresh cni-plugins
for p in main/bridge ipam/host-local main/loopback meta/portmap; do
  (cd "$here/cni-plugins" && go get -tool "github.com/containernetworking/plugins/plugins/$p@v$CNI_PLUGINS_VERSION")
done
# coredns/main.go (kept) picks the plugins; tidy resolves what they import.
fresh coredns; (cd "$here/coredns" && go get "github.com/coredns/coredns@v$COREDNS_VERSION" && go mod tidy)
# kube-router's own release pins dependencies with published vulnerabilities; raise them.
fresh kube-router
(cd "$here/kube-router" && go get -tool "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@v$KUBE_ROUTER_VERSION" &&
  go get golang.org/x/net@latest golang.org/x/sys@latest golang.org/x/text@latest golang.org/x/oauth2@latest \
    golang.org/x/crypto@latest golang.org/x/term@latest google.golang.org/grpc@latest google.golang.org/protobuf@latest \
    github.com/docker/docker@latest && go mod tidy)

# cert-manager: our own main packages (kept) over the library module; the library's tests import
# a Venafi package that gomod/cert-manager/vcert-unavailable does not provide, hence -e.
(cd "$here/cert-manager" && go get "github.com/cert-manager/cert-manager@v$CERT_MANAGER_VERSION" && go mod tidy -e)
fresh oauth2-proxy; (cd "$here/oauth2-proxy" && go get -tool "github.com/oauth2-proxy/oauth2-proxy/v7@v$OAUTH2_PROXY_VERSION")
