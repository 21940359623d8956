#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Stops the local cluster and removes everything it made: the pods' processes and cgroups,
# every process in the cluster's network namespace (control plane, node, shims), the node's
# mount namespace with its tmpfs, the namespace itself, the forwarder and the state directory.
# The next start is a fresh cluster. Idempotent: stopping a stopped cluster succeeds.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ ! -d "$STATE_DIR" ] && [ ! -e "$NETNS_PATH" ]; then log "not running"; exit 0; fi

stop_pid() { # stop_pid <pid>: TERM its process group, then KILL what is left
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 15); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

pod_cgroups() { # every cgroup of this cluster's pods, deepest first
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [ -L "${controller%/}" ] || [ ! -d "$controller${CGROUP_ROOT#/}" ] && continue
    # A container's cgroup can vanish while find walks the tree (containerd's shim removes it as
    # the container dies): that is not an error, the final check below sees what is left.
    find "$controller${CGROUP_ROOT#/}" -depth -type d 2>/dev/null || true
  done
}
pod_pids() { # every process in those cgroups
  pod_cgroups | while read -r dir; do cat "$dir/cgroup.procs" 2>/dev/null || true; done | sort -u
}

# Host-side helpers first, so nothing re-creates what is being removed.
for name in cloud-standin forwarder; do
  [ -f "$STATE_DIR/run/$name.pid" ] && stop_pid "$(cat "$STATE_DIR/run/$name.pid")"
done

# Containers live in their own namespaces; their cgroups find them all.
for _ in $(seq 30); do
  pids=$(pod_pids)
  [ -n "$pids" ] || break
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  sleep 0.3
done

if [ -e "$NETNS_PATH" ]; then
  for _ in $(seq 3); do
    pids=$(ip netns pids "$NETNS" 2>/dev/null || true)
    [ -n "$pids" ] || break
    for pid in $pids; do stop_pid "$pid" & done
    wait
  done
  pids=$(ip netns pids "$NETNS" 2>/dev/null || true)
  [ -z "$pids" ] || die "processes still running in network namespace $NETNS: $pids"
  ip netns del "$NETNS"
  log "network namespace $NETNS removed"
fi

# A killed process leaves its cgroup only once it has exited, and on a loaded machine one that
# held much memory takes long (a side-by-side run saw more than 10 s after the kills above).
for _ in $(seq 120); do
  pids=$(pod_pids)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  pod_cgroups | while read -r dir; do rmdir "$dir" 2>/dev/null || true; done
  [ -z "$(pod_cgroups)" ] && break
  sleep 0.5
done
if [ -n "$(pod_cgroups)" ]; then
  die "cgroups of $CGROUP_ROOT could not be removed: $(pod_cgroups | head -3); processes in them: $(
    pod_pids | head -5 |
      while read -r pid; do printf '%s (%s) ' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)"; done)"
fi

rm -rf "$STATE_DIR"
log "stopped; state $STATE_DIR removed"
