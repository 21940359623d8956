#!/usr/bin/env bash
# lib.sh (sourced) assigns the paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# The upstream Helm charts the local cluster installs, taken from their projects' Go module
# zips (no chart repository is reachable here; the Go checksum database vouches for the zip)
# and cached under $CACHE_ROOT/charts/<chart>-v<version>/<chart>. Prints nothing on stdout.
#   cert-manager: deploy/charts/cert-manager, whose Chart.yaml carries v0.0.0 placeholders
#   that upstream's release tool fills; filled here the same way.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%%,direct}

fetch() { # fetch <chart> <module> <version> <path in the module>
  local chart=$1 module=$2 version=$3 path=$4 dest=$CACHE_ROOT/charts/$1-v$3 logf src
  [ -f "$dest/.done" ] && return
  mkdir -p "$dest"; logf=$dest/fetch.log
  if ! src=$(cd "$dest" && go mod download -json "$module@v$version" 2>"$logf" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])' 2>>"$logf"); then
    tail -n 20 "$logf" >&2; die "chart $chart: downloading $module@v$version failed; see $logf"
  fi
  [ -f "$src/$path/Chart.yaml" ] || die "chart $chart: $path/Chart.yaml is missing from $module@v$version ($src)"
  rm -rf "${dest:?}/$chart"; cp -r "$src/$path" "$dest/$chart"; chmod -R u+w "$dest/$chart"
  sed -i "s/^version: v0.0.0$/version: v$version/; s/^appVersion: v0.0.0$/appVersion: v$version/" "$dest/$chart/Chart.yaml"
  grep -q "^version: v$version$" "$dest/$chart/Chart.yaml" || die "chart $chart: Chart.yaml of $module@v$version has no version placeholder to fill; see $dest/$chart/Chart.yaml"
  touch "$dest/.done"
  log "chart $chart v$version from $module"
}

fetch cert-manager github.com/cert-manager/cert-manager "$CERT_MANAGER_VERSION" deploy/charts/cert-manager
