#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and CACHE_ROOT; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Builds cert-manager's controller, webhook, cainjector, acmesolver and startupapicheck from the
# wrapper module gomod/cert-manager (our main packages over the upstream library module, which is
# all the Go module proxy serves), version-stamped like upstream's release builds, and exports the
# upstream chart from the same module zip. Cached in
# $CACHE_ROOT/cert-manager-v$CERT_MANAGER_VERSION/{bin,chart/cert-manager}; a complete cache
# (.done) is not rebuilt. Run on its own, or from build.sh while that holds the build lock.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "cert-manager: the Go toolchain is missing: install Go >= 1.26 (go.dev/doc/install) and put 'go' on PATH"
export GOTOOLCHAIN=local CGO_ENABLED=0
# A module the proxy lacks must fail at once, not fall back to fetching from its VCS host.
GOPROXY=$(go env GOPROXY); export GOPROXY=${GOPROXY%%,direct}
export GOFLAGS="-trimpath -mod=readonly"

dir=$CACHE_ROOT/cert-manager-v$CERT_MANAGER_VERSION
mod=$here/gomod/cert-manager
mkdir -p "$CACHE_ROOT"
# build.sh holds the shared build lock on fd 9 and its children inherit it; taking the lock again
# through a new open file would wait for ourselves forever.
if ! [ /proc/self/fd/9 -ef "$CACHE_ROOT/.build.lock" ]; then
  exec 9>"$CACHE_ROOT/.build.lock"
fi
flock 9

if [ -f "$dir/.done" ]; then log "cert-manager: cached in $dir"; exit 0; fi
rm -rf "$dir"; mkdir -p "$dir/bin" "$dir/chart"
logf=$dir/build.log start=$SECONDS
log "cert-manager: building (log: $logf)"
if ! (cd "$mod" && go mod download >"$logf" 2>&1); then
  tail -n 20 "$logf" >&2; die "cert-manager: Go module download failed; see $logf (is the Go module proxy '$GOPROXY' reachable?)"
fi
src=$(cd "$mod" && go list -m -f '{{.Version}} {{.Dir}}' github.com/cert-manager/cert-manager)
[ "${src%% *}" = "v$CERT_MANAGER_VERSION" ] ||
  die "cert-manager: gomod/cert-manager/go.mod pins ${src%% *} but versions.env has CERT_MANAGER_VERSION=$CERT_MANAGER_VERSION; update the require line and run 'go mod tidy -e' there"

# All five in one go build, so the packages they share compile once. The stamp is upstream's:
# make/00_mod.mk sets pkg/util.AppVersion (and AppGitCommit, unknown here: the module zip has no VCS data).
if ! (cd "$mod" && go build -p "$(nproc)" -o "$dir/bin/" \
  -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=v$CERT_MANAGER_VERSION" \
  ./controller ./webhook ./cainjector ./acmesolver ./startupapicheck >>"$logf" 2>&1); then
  tail -n 20 "$logf" >&2; die "cert-manager: go build failed; see $logf"
fi

# The module's chart says version/appVersion v0.0.0; upstream's release tooling stamps both, and the
# images the chart names take their tag from appVersion.
chart=$dir/chart/cert-manager
cp -R "${src#* }/deploy/charts/cert-manager" "$chart"
chmod -R u+w "$chart"
sed -i -e "s/^version: v0.0.0\$/version: v$CERT_MANAGER_VERSION/" -e "s/^appVersion: v0.0.0\$/appVersion: v$CERT_MANAGER_VERSION/" "$chart/Chart.yaml"
if ! grep -qx "version: v$CERT_MANAGER_VERSION" "$chart/Chart.yaml" || ! grep -qx "appVersion: v$CERT_MANAGER_VERSION" "$chart/Chart.yaml"; then
  die "cert-manager: could not stamp the chart version into $chart/Chart.yaml (expected 'version: v0.0.0' in the module's chart)"
fi

log "cert-manager: built in $((SECONDS - start)) s"
touch "$dir/.done"
