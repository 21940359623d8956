#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Stops every component of the local control plane and removes its state (the next start is a
# fresh cluster). Idempotent: stopping a stopped cluster succeeds.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -d "$STATE_DIR" ] || { log "not running"; exit 0; }
# site.yml's local runtime (PostgreSQL and MLflow for the KWOK cluster) keeps its state here.
for runtime in "$STATE_DIR"/local-runtime/*/; do
  [ -d "$runtime" ] || continue
  ns=$(basename "$runtime")
  "$(bash "$here/../../scripts/venv.sh")/bin/python" "$here/../e2e/local_runtime.py" stop --namespace "$ns" --state-dir "$runtime" >&2
  log "local runtime for namespace $ns stopped"
done
for name in cloud-standin kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f=$STATE_DIR/run/$name.pid
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  # Each component runs in its own session; signal the whole process group.
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid"; fi
    log "$name stopped"
  fi
  rm -f "$f"
done
rm -rf "$STATE_DIR"
