# The harness's own test image: Debian's busybox-static (sh, httpd, wget, nc, nslookup, ...) for
# the pods the cluster tests run (a server, clients, DNS lookups). Sourced by build.sh.
# shellcheck shell=bash
# shellcheck disable=SC2154

spec_toolbox() {
  local dir=$CACHE_ROOT/images/busybox-static-$IMAGES_DEBIAN_SUITE
  toolbox_busybox=$dir/busybox
  (
    flock 7
    [ -f "$dir/.done" ] && exit 0
    rm -rf "$dir"; mkdir -p "$dir"
    if ! mmdebstrap --mode=root --variant=extract --include=busybox-static --format=directory \
         "$IMAGES_DEBIAN_SUITE" "$dir/root" "deb $DEBIAN_MIRROR $IMAGES_DEBIAN_SUITE main" >"$dir/build.log" 2>&1; then
      tail -n 15 "$dir/build.log" >&2
      echo "ERROR: image toolbox: extracting Debian's busybox-static failed; see $dir/build.log" >&2
      exit 1
    fi
    # The subshell runs inside `|| return`, where errexit is off: every step checks itself.
    install -m 0755 "$dir/root/usr/bin/busybox" "$toolbox_busybox" || exit 1
    zcat "$dir/root/usr/share/doc/busybox-static/changelog.Debian.gz" | sed -n '1s/^busybox (\([^)]*\)).*/\1/p' >"$dir/version"
    [ -s "$dir/version" ] || { echo "ERROR: image toolbox: no version in busybox-static's changelog" >&2; exit 1; }
    rm -rf "$dir/root"
    touch "$dir/.done"
  ) 7>"$CACHE_ROOT/images/.busybox-static.lock" || return 1
  # 1:1.37.0-6 -> 1.37.0: a tag may hold no colon.
  version=$(sed 's/^[0-9]*://; s/-.*//' "$dir/version")
  inputs+=("$toolbox_busybox" "$images_dir/static/passwd" "$images_dir/static/group")
}

build_toolbox() {
  step "assemble root filesystem"
  local r=rootfs applet
  mkdir -p "$r/bin" "$r/etc" "$r/tmp"
  install -m 0755 "$toolbox_busybox" "$r/bin/busybox"
  for applet in $("$toolbox_busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
  done
  install -m 0644 "$images_dir/static/passwd" "$images_dir/static/group" "$r/etc/"
  chmod 1777 "$r/tmp"
  pack_image "$version" --entrypoint '["/bin/sh"]' --user 65532:65532 --workdir / --env PATH=/bin
}
