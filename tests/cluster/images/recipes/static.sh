# Distroless-like images of one static Go binary: the binary, /etc/passwd and /etc/group with
# root and nonroot (65532), /etc/nsswitch.conf, /tmp (1777) and Debian's CA bundle. Entrypoint,
# user and path of the binary as in the upstream image. Sourced by build.sh.
# shellcheck shell=bash
# shellcheck disable=SC2154

# spec_static <name>: sets the binary, where it goes and how the upstream image runs it.
spec_static() {
  local name=$1 built_by
  static_env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  static_expose=() static_caps="" static_jwt_key=""
  # Numeric users: the kubelet can only check runAsNonRoot against a numeric image user.
  static_user=65532:65532
  case $name in
    oauth2-proxy)
      version=v$OAUTH2_PROXY_VERSION
      static_binary=$oauth2_proxy_dir/bin/oauth2-proxy
      built_by="the cluster build (oauth2-proxy-v$OAUTH2_PROXY_VERSION)"
      # Upstream: distroless static:nonroot, /bin/oauth2-proxy, an empty JWT key file for
      # deployments that point OAUTH2_PROXY_JWT_KEY_FILE at it.
      static_path=/bin/oauth2-proxy static_jwt_key=1 static_expose=(4180/tcp)
      pins+=("OAUTH2_PROXY_VERSION=$OAUTH2_PROXY_VERSION")
      ;;
    coredns)
      version=$COREDNS_VERSION
      static_binary=$CACHE_ROOT/coredns-v$COREDNS_VERSION/bin/coredns
      built_by="the node build (coredns-v$COREDNS_VERSION)"
      # Upstream: /coredns with cap_net_bind_service, so port 53 binds as non-root.
      static_path=/coredns static_caps=cap_net_bind_service=+ep static_expose=(53/tcp 53/udp)
      pins+=("COREDNS_VERSION=$COREDNS_VERSION")
      ;;
    cert-manager-controller | cert-manager-webhook | cert-manager-cainjector | cert-manager-acmesolver | cert-manager-startupapicheck)
      local component=${name#cert-manager-}
      version=v$CERT_MANAGER_VERSION
      static_binary=$CACHE_ROOT/cert-manager-v$CERT_MANAGER_VERSION/bin/$component
      built_by="the cert-manager build (cert-manager-v$CERT_MANAGER_VERSION)"
      # Upstream builds with ko: the binary is /ko-app/<last element of its module path>
      # (github.com/cert-manager/cert-manager/<component>-binary) on an apko base running as
      # 65532. The chart passes arguments only, so the entrypoint must be the binary.
      static_path=/ko-app/$component-binary
      static_env[0]+=":/ko-app"
      static_env+=("KO_DATA_PATH=/var/run/ko")
      pins+=("CERT_MANAGER_VERSION=$CERT_MANAGER_VERSION")
      ;;
  esac
  [ -f "$static_binary" ] || { echo "ERROR: image $name: input binary $static_binary is missing; it is built by $built_by" >&2; return 1; }
  ensure_ca_bundle || return 1
  inputs+=("$static_binary" "$ca_bundle" "$images_dir/static/passwd" "$images_dir/static/group" "$images_dir/static/nsswitch.conf")
}

# Debian's CA bundle, from the ca-certificates package of $IMAGES_DEBIAN_SUITE (not the build
# host's bundle, which may hold local CAs). Extracted once and shared by every static image.
ensure_ca_bundle() {
  local dir=$CACHE_ROOT/images/ca-certificates-$IMAGES_DEBIAN_SUITE
  ca_bundle=$dir/ca-certificates.crt
  mkdir -p "$CACHE_ROOT/images"
  (
    flock 7
    [ -f "$dir/.done" ] && exit 0
    rm -rf "$dir"; mkdir -p "$dir"
    log "images: extracting ca-certificates from Debian $IMAGES_DEBIAN_SUITE (log: $dir/build.log)"
    if ! mmdebstrap --mode=root --variant=extract --include=ca-certificates --format=directory \
         "$IMAGES_DEBIAN_SUITE" "$dir/root" "deb $DEBIAN_MIRROR $IMAGES_DEBIAN_SUITE main" >"$dir/build.log" 2>&1; then
      tail -n 15 "$dir/build.log" >&2
      echo "ERROR: images: extracting Debian's ca-certificates failed; see $dir/build.log" >&2
      exit 1
    fi
    # What update-ca-certificates writes with every Mozilla certificate enabled (its default).
    find "$dir/root/usr/share/ca-certificates/mozilla" -name '*.crt' -print0 | LC_ALL=C sort -z | xargs -0 cat >"$ca_bundle"
    grep -q 'BEGIN CERTIFICATE' "$ca_bundle" || { echo "ERROR: images: no certificate in $dir/root/usr/share/ca-certificates" >&2; exit 1; }
    # The extract variant installs nothing, so dpkg has no record; the changelog names the version.
    zcat "$dir/root/usr/share/doc/ca-certificates/changelog.gz" | sed -n '1s/^ca-certificates (\([^)]*\)).*/\1/p' >"$dir/version"
    [ -s "$dir/version" ] || { echo "ERROR: images: no version in ca-certificates' changelog" >&2; exit 1; }
    rm -rf "$dir/root"
    touch "$dir/.done"
  ) 7>"$CACHE_ROOT/images/.ca-certificates.lock"
}

build_static() {
  step "assemble root filesystem"
  local r=rootfs
  mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/root" "$r/home/nonroot" "$r$(dirname "$static_path")"
  install -m 0644 "$images_dir/static/passwd" "$images_dir/static/group" "$images_dir/static/nsswitch.conf" "$r/etc/"
  install -m 0644 "$ca_bundle" "$r/etc/ssl/certs/ca-certificates.crt"
  chmod 1777 "$r/tmp"
  chmod 0700 "$r/root" "$r/home/nonroot"
  chown 65532:65532 "$r/home/nonroot"
  install -m 0755 "$static_binary" "$r$static_path"
  if [ -n "$static_jwt_key" ]; then
    mkdir -p "$r/etc/ssl/private"
    install -m 0644 /dev/null "$r/etc/ssl/private/jwt_signing_key.pem"
  fi
  if [ -n "$static_caps" ]; then
    step "setcap $static_caps $static_path"
    setcap "$static_caps" "$r$static_path"
  fi
  local args=(--entrypoint "[\"$static_path\"]" --user "$static_user" --workdir /
    --label "io.mlflow-k8s.ca-certificates=$(cat "$(dirname "$ca_bundle")/version")")
  local e p
  for e in "${static_env[@]}"; do args+=(--env "$e"); done
  for p in "${static_expose[@]}"; do args+=(--expose "$p"); done
  pack_image "$version" "${args[@]}"
}
