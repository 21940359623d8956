# A locally built equivalent of the official postgres:$POSTGRES_MAJOR image (not that image):
# Debian's postgresql-$POSTGRES_MAJOR from $IMAGES_DEBIAN_SUITE, user postgres 999:999 created
# before the packages, and postgres/docker-entrypoint.sh. Tagged with the major.minor of the
# Debian package (e.g. 17.7), known once the build resolved it. Sourced by build.sh.
# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034
# The hooks' "$1" (the root filesystem) is mmdebstrap's, expanded by the hook's own shell.
# shellcheck disable=SC2016

spec_postgres() {
  command -v mmdebstrap >/dev/null || { echo "ERROR: image postgres: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; return 1; }
  version=$POSTGRES_MAJOR
  pins+=("POSTGRES_MAJOR=$POSTGRES_MAJOR")
  inputs+=("$images_dir/postgres/docker-entrypoint.sh")
}

build_postgres() {
  local bin=/usr/lib/postgresql/$POSTGRES_MAJOR/bin
  step "mmdebstrap $IMAGES_DEBIAN_SUITE minbase with postgresql-$POSTGRES_MAJOR"
  # As the official image: uid/gid 999 exist before the packages, so postgresql-common's
  # postinst adopts them instead of picking free system ids; no default cluster is created
  # (the entrypoint initialises PGDATA), so none is left in the image.
  mmdebstrap_rootfs "$work/rootfs" \
    --include="postgresql-$POSTGRES_MAJOR" \
    --essential-hook='set -e
      echo "postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash" >>"$1/etc/passwd"
      echo "postgres:x:999:" >>"$1/etc/group"
      echo "postgres:*:20000:0:99999:7:::" >>"$1/etc/shadow"
      echo "postgres:*::" >>"$1/etc/gshadow"
      mkdir -p "$1/etc/postgresql-common/createcluster.d"
      echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/no-main-cluster.conf"' \
    --customize-hook='set -e
      [ ! -e "$1/etc/postgresql/'"$POSTGRES_MAJOR"'/main" ] || { echo "a default cluster was created" >&2; exit 1; }'

  local r=$work/rootfs
  clean_rootfs "$r"
  step "configure the image"
  [ -x "$r$bin/postgres" ] || { echo "no $bin/postgres in the root filesystem" >&2; return 1; }
  grep -q '^postgres:x:999:999:' "$r/etc/passwd" || { echo "postgres is not uid/gid 999 after the install" >&2; return 1; }
  # initdb copies this sample: the real server listens on every address (the temporary one
  # during initialisation overrides it with listen_addresses='').
  local sample=$r/usr/share/postgresql/$POSTGRES_MAJOR/postgresql.conf.sample
  # Paths are edited from outside the root filesystem, where its absolute symlinks point at the
  # build host: only plain files and directories are touched.
  if [ ! -f "$sample" ] || [ -L "$sample" ]; then echo "$sample is not a plain file" >&2; return 1; fi
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$sample"
  grep -q "^listen_addresses = '\*'" "$sample" || { echo "listen_addresses not set in $sample" >&2; return 1; }
  # /var/run is a symlink to /run (absolute): use the real path, never one through it.
  install -d -m 3777 -o 999 -g 999 "$r/run/postgresql"
  install -d -m 0755 -o 999 -g 999 "$r/var/lib/postgresql" "$r/docker-entrypoint-initdb.d"
  install -d -m 1777 -o 999 -g 999 "$r/var/lib/postgresql/data"
  install -m 0755 "$images_dir/postgres/docker-entrypoint.sh" "$r/usr/local/bin/docker-entrypoint.sh"
  local full
  full=$(debian_version "$r" "postgresql-$POSTGRES_MAJOR")
  # 17.7-0+deb13u1 -> 17.7: the upstream release; the Debian revision is in a label.
  pack_image "$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$full")" \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' --user 999:999 --workdir / \
    --expose 5432/tcp --stop-signal SIGINT \
    --env "PATH=$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --env "PGDATA=/var/lib/postgresql/data" --env LANG=C.UTF-8 --env "PG_MAJOR=$POSTGRES_MAJOR" \
    --label "io.mlflow-k8s.debian-package=postgresql-$POSTGRES_MAJOR $full" \
    --label "io.mlflow-k8s.debian-suite=$IMAGES_DEBIAN_SUITE"
}
