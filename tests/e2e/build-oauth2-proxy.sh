#!/usr/bin/env bash
# Builds oauth2-proxy from the Go wrapper module in gomod/oauth2-proxy and caches the binary
# under ${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}/oauth2-proxy-v<version>/. Prints its path.
# The version comes from the wrapper's go.mod, so bumping the pin there rebuilds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mod=$here/gomod/oauth2-proxy
cache=${MLFLOW_K8S_CACHE:-/var/cache/mlflow-k8s}
command -v go >/dev/null || { echo "ERROR: the Go toolchain is missing (Go >= 1.26 needed to build oauth2-proxy)" >&2; exit 1; }
version=$(awk '$1 == "github.com/oauth2-proxy/oauth2-proxy/v7" {print $2}' "$mod/go.mod")
[ -n "$version" ] || { echo "ERROR: no oauth2-proxy requirement in $mod/go.mod" >&2; exit 1; }
dir=$cache/oauth2-proxy-$version
mkdir -p "$cache"
# Another suite may be building the same binary: wait for it instead of racing it.
exec 8>"$cache/.oauth2-proxy.lock"; flock 8
if [ ! -f "$dir/.done" ]; then
  export GOTOOLCHAIN=local CGO_ENABLED=0
  # A module the proxy lacks must fail at once, not fall back to fetching from its VCS host.
  GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%%,direct}
  export GOFLAGS="-trimpath -mod=readonly"
  mkdir -p "$dir"; start=$SECONDS
  echo "[e2e] building oauth2-proxy $version (log: $dir/build.log)" >&2
  if ! (cd "$mod" && go build -p 1 \
        -ldflags "-s -w -X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$version" \
        -o "$dir/oauth2-proxy.tmp" github.com/oauth2-proxy/oauth2-proxy/v7 >"$dir/build.log" 2>&1); then
    tail -n 20 "$dir/build.log" >&2; echo "ERROR: oauth2-proxy build failed; see $dir/build.log" >&2; exit 1
  fi
  mv "$dir/oauth2-proxy.tmp" "$dir/oauth2-proxy"
  touch "$dir/.done"
  echo "[e2e] oauth2-proxy built in $((SECONDS - start)) s" >&2
fi
echo "$dir/oauth2-proxy"
