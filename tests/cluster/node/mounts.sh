#!/usr/bin/env bash
# The node's mount namespace, run by start.sh as `unshare --mount --propagation private` inside
# the cluster's network namespace: containerd, kubelet, kube-proxy and kube-router are entered
# into it, so whatever they write outside the state directory (/run/containerd, /run/xtables.lock,
# /var/lib/kubelet/device-plugins, /var/lib/cni, /var/log/containers) lands in tmpfs of its own,
# and the kubelet reads its wanted kernel settings from files instead of the host's /proc/sys.
# Everything goes away with the namespace. Stays in the foreground (sleep) to hold it.
set -euo pipefail
sysctl_dir=$1
for dir in /run /var/lib /var/log; do
  mount -t tmpfs -o mode=0755 "mlflow-k8s-node" "$dir"
done
for file in "$sysctl_dir"/*; do
  mount --bind "$file" "/proc/sys/$(basename "$file" | tr . /)"
done
echo "node mount namespace ready"
exec sleep infinity
