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
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  go get -tool "k8s.io/kubernetes/cmd/$c@v$KUBERNETES_VERSION"
done

fresh etcd; (cd "$here/etcd" && go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION")
fresh kwok; (cd "$here/kwok" && go get -tool "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION")
fresh helm; (cd "$here/helm" && go get -tool "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION")
