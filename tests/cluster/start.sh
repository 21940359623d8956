#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Starts the local cluster inside a network namespace of its own: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, one real node (containerd, kubelet, kube-proxy,
# kube-router for NetworkPolicy, CoreDNS), the images built here, one tainted KWOK node,
# a default StorageClass with pre-made PVs and the cloud stand-in. The host reaches it only
# through the forwarder on 127.0.0.1. Idempotent: components already running are left alone
# (a stopped kubelet or containerd is started again, its pods keep running). Prints the
# kubeconfig path on stdout.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=pki.sh
. "$here/pki.sh"

bash "$here/build.sh" >&2
for tool in ip nsenter unshare iptables ipset conntrack openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install iproute2 util-linux iptables ipset conntrack openssl curl"
done
RUNC=$(command -v runc) || die "runc is missing: apt-get install runc"
export RUNC
for dir in /run /var/lib /var/log; do
  case "$STATE_DIR/" in "$dir"/*) die "MLFLOW_K8S_STATE ($STATE_DIR) must not be under $dir: the node mounts a tmpfs over it";; esac
  case "$CACHE_ROOT/" in "$dir"/*) die "MLFLOW_K8S_CACHE ($CACHE_ROOT) must not be under $dir: the node mounts a tmpfs over it";; esac
done
mkdir -p "$STATE_DIR/logs" "$STATE_DIR/run" "$STATE_DIR/forwards.d" "$NODE_DIR"
exec 8>"$STATE_DIR/.start.lock"; flock 8

running() { local f=$STATE_DIR/run/$1.pid; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_pid() { cat "$STATE_DIR/run/node-ns.pid"; }
# Runs a command in the node's mount and network namespaces.
in_node() { nsenter --target "$(node_pid)" --mount --net -- "$@"; }

spawn() { # spawn <component> <command...>: in the background, own session, logged, pid recorded
  local name=$1; shift
  # 8>&-: the component must not inherit the start lock, or the next start.sh waits forever.
  setsid "$@" >>"$STATE_DIR/logs/$name.log" 2>&1 </dev/null 8>&- &
  echo $! >"$STATE_DIR/run/$name.pid"
  log "$name started (pid $!, log $STATE_DIR/logs/$name.log)"
}
launch() { running "$1" || spawn "$1" nsenter --net="$NETNS_PATH" -- "${@:2}"; }
launch_node() { running "$1" || spawn "$1" nsenter --target "$(node_pid)" --mount --net -- "${@:2}"; }

wait_for() { # wait_for <component> <seconds> <check command...>
  local name=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 25 "$STATE_DIR/logs/$name.log" >&2
      die "$name exited; see $STATE_DIR/logs/$name.log"
    fi
    [ $SECONDS -lt $deadline ] || die "$name not healthy after ${limit}s; see $STATE_DIR/logs/$name.log"
    sleep 1
  done
}

render() { # render <template>: @NAME@ replaced by the value of $NAME
  local text name
  text=$(<"$1")
  for name in NODE_DIR STATE_DIR PKI CGROUP_ROOT NODE_IP NODE_NAME POD_CIDR POD_GATEWAY CLUSTER_DNS \
              SERVICE_CIDR CNI_BIN_DIR PAUSE_IMAGE COREDNS_IMAGE RUNC; do
    text=${text//@$name@/${!name:-}}
  done
  printf '%s\n' "$text"
}

make_netns() {
  [ -e "$NETNS_PATH" ] && return
  ip netns add "$NETNS"
  in_netns ip link set lo up
  # No dummy links on this kernel: the node's address sits on a veth pair whose both ends stay
  # in the namespace. No default route: an address outside the cluster is unreachable at once.
  in_netns ip link add node0 type veth peer name node0-peer
  in_netns ip addr add "$NODE_IP/24" dev node0
  in_netns ip link set node0 up
  in_netns ip link set node0-peer up
  # The node's own connections to Service addresses (the forwarder's) need a route for
  # kube-proxy's DNAT to rewrite.
  in_netns ip route add "$SERVICE_CIDR" dev node0
  # These sysctls belong to the new namespace, not to the host.
  in_netns sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  log "network namespace $NETNS created (node address $NODE_IP)"
}

update() { # update <file>: stdin replaces the file only when it differs (kube-proxy exits when its config file changes)
  local new
  new=$(cat)
  [ -f "$1" ] && [ "$(<"$1")" = "$new" ] && return
  printf '%s\n' "$new" >"$1.tmp" && mv "$1.tmp" "$1"
}

forward() { # forward <name> <host port> <target>: the forwarder picks the file up within a second
  printf '%s %s\n' "$2" "$3" | update "$STATE_DIR/forwards.d/$1.conf"
}

start_forwarder() {
  if ! running forwarder; then
    local spec port
    for spec in APISERVER:"$APISERVER_PORT" MLFLOW:"$MLFLOW_PORT" SSO:"$SSO_PORT"; do
      port=${spec#*:}
      port_free "$port" || die "forwarder: port 127.0.0.1:$port is already in use by another process (set MLFLOW_K8S_${spec%%:*}_PORT); log: $STATE_DIR/logs/forwarder.log"
    done
    spawn forwarder python3 "$here/forwarder.py" --netns "$NETNS_PATH" --config-dir "$STATE_DIR/forwards.d" --dns "$CLUSTER_DNS"
  fi
  forward apiserver "$APISERVER_PORT" "127.0.0.1:$INNER_APISERVER_PORT"
  forward mlflow "$MLFLOW_PORT" mlflow.mlflow.svc.cluster.local:5000
  forward sso "$SSO_PORT" oauth2-proxy.mlflow.svc.cluster.local:4180
}

start_control_plane() {
  local inner=https://127.0.0.1:$INNER_APISERVER_PORT admin=$pki/admin.kubeconfig
  launch etcd "$etcd_dir/bin/etcd" --name local --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$INNER_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$INNER_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$INNER_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$INNER_ETCD_PEER_PORT" \
    --initial-cluster "local=http://127.0.0.1:$INNER_ETCD_PEER_PORT" --unsafe-no-fsync --quota-backend-bytes 2147483648
  wait_for etcd 60 in_netns curl -fsS "http://127.0.0.1:$INNER_ETCD_PORT/health"

  # Bound to every address of the namespace: pods reach it at the node address through the
  # `kubernetes` Service, whose endpoints the API server keeps itself.
  launch kube-apiserver "$k8s_dir/bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$INNER_ETCD_PORT" --bind-address 0.0.0.0 --advertise-address "$NODE_IP" \
    --secure-port "$INNER_APISERVER_PORT" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC --service-cluster-ip-range "$SERVICE_CIDR" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" --allow-privileged=true \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
    --enable-admission-plugins PodNodeSelector,PodTolerationRestriction \
    --enable-priority-and-fairness=false --profiling=false
  wait_for kube-apiserver 120 in_netns curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$inner/readyz"

  launch kube-controller-manager "$k8s_dir/bin/kube-controller-manager" --kubeconfig "$admin" \
    --authentication-kubeconfig "$admin" --authorization-kubeconfig "$admin" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$INNER_KCM_PORT" --root-ca-file "$pki/ca.crt" \
    --service-account-private-key-file "$pki/sa.key" --use-service-account-credentials=false \
    --authorization-always-allow-paths /healthz,/readyz,/livez --pvclaimbinder-sync-period 2s \
    --node-monitor-grace-period 60s
  launch kube-scheduler "$k8s_dir/bin/kube-scheduler" --kubeconfig "$admin" \
    --authentication-kubeconfig "$admin" --authorization-kubeconfig "$admin" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$INNER_SCHEDULER_PORT" \
    --authorization-always-allow-paths /healthz,/readyz,/livez
  launch kwok "$kwok_dir/bin/kwok" --kubeconfig "$admin" --config "$kwok_dir/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --cidr 10.244.0.0/16 --node-ip 10.244.0.1 \
    --server-address "127.0.0.1:$INNER_KWOK_PORT"
  running cloud-standin || spawn cloud-standin bash "$here/cloud-standin.sh" "$KUBECONFIG_PATH"
  wait_for kube-controller-manager 60 in_netns curl -fsSk "https://127.0.0.1:$INNER_KCM_PORT/healthz"
  wait_for kube-scheduler 60 in_netns curl -fsSk "https://127.0.0.1:$INNER_SCHEDULER_PORT/healthz"
  wait_for kwok 60 in_netns curl -fsS "http://127.0.0.1:$INNER_KWOK_PORT/healthz"
}

make_cgroups() { # the pods' cgroup root in every v1 hierarchy the kubelet uses
  local controller dir
  for controller in /sys/fs/cgroup/*/; do
    [ -L "${controller%/}" ] && continue
    dir=$controller${CGROUP_ROOT#/}
    [ -d "$dir" ] && continue
    mkdir "$dir"
    # A new v1 cpuset has no CPUs or memory nodes until given its parent's.
    if [ -f "$dir/cpuset.cpus" ]; then
      cat "${controller}cpuset.cpus" >"$dir/cpuset.cpus"
      cat "${controller}cpuset.mems" >"$dir/cpuset.mems"
    fi
  done
}

start_node() {
  mkdir -p "$NODE_DIR/sysctl" "$NODE_DIR/cni/net.d" "$NODE_DIR/pod-logs" "$NODE_DIR/volume-plugins" "$NODE_DIR/containerd"
  # The values the kubelet insists on (setupKernelTunables), shown to it instead of the host's.
  printf '1\n' >"$NODE_DIR/sysctl/vm.overcommit_memory"
  printf '0\n' >"$NODE_DIR/sysctl/vm.panic_on_oom"
  printf '10\n' >"$NODE_DIR/sysctl/kernel.panic"
  printf '1\n' >"$NODE_DIR/sysctl/kernel.panic_on_oops"
  printf '1000000\n' >"$NODE_DIR/sysctl/kernel.keys.root_maxkeys"
  printf '25000000\n' >"$NODE_DIR/sysctl/kernel.keys.root_maxbytes"
  printf '# No upstream resolvers: nothing leaves the cluster'"'"'s network namespace.\n' >"$NODE_DIR/resolv.conf"
  PKI=$pki CNI_BIN_DIR=$cni_dir/bin PAUSE_IMAGE=$(image_ref pause)
  export PKI CNI_BIN_DIR PAUSE_IMAGE
  render "$here/node/containerd.toml" | update "$NODE_DIR/containerd/config.toml"
  render "$here/node/cni.conflist" | update "$NODE_DIR/cni/net.d/10-mlflow-k8s.conflist"
  render "$here/node/kubelet.yaml" | update "$NODE_DIR/kubelet.yaml"
  render "$here/node/kube-proxy.yaml" | update "$NODE_DIR/kube-proxy.yaml"
  make_cgroups

  if ! running node-ns; then
    spawn node-ns nsenter --net="$NETNS_PATH" -- unshare --mount --propagation private -- bash "$here/node/mounts.sh" "$NODE_DIR/sysctl"
    wait_for node-ns 20 grep -q "node mount namespace ready" "$STATE_DIR/logs/node-ns.log"
  fi
  launch_node containerd "$containerd_dir/bin/containerd" --config "$NODE_DIR/containerd/config.toml"
  wait_for containerd 60 in_node "$containerd_dir/bin/ctr" --address /run/containerd/containerd.sock version
  import_images
  launch_node kubelet "$kubelet_dir/bin/kubelet" --config "$NODE_DIR/kubelet.yaml" \
    --kubeconfig "$pki/kubelet.kubeconfig" --root-dir "$NODE_DIR/kubelet" --cert-dir "$NODE_DIR/kubelet-pki" \
    --node-ip "$NODE_IP" --hostname-override "$NODE_NAME" --node-labels "mlflow-k8s.local/volumes=true"
  launch_node kube-proxy "$kubelet_dir/bin/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml"
  wait_for kubelet 60 in_node curl -fsS http://127.0.0.1:10248/healthz
  wait_for kube-proxy 60 in_node curl -fsS http://127.0.0.1:10256/healthz
}

image_ref() { # the local name of an image built by images/build.sh
  awk -v name="$1" '{n = $1; sub(/^localhost\/mlflow-k8s\//, "", n); sub(/:.*/, "", n); if (n == name) print $1}' \
    "$STATE_DIR/images.txt"
}

import_images() { # every image images/build.sh built: all, or those named in MLFLOW_K8S_IMAGES
  local ref tar marker
  mkdir -p "$NODE_DIR/imported"
  while read -r ref tar; do
    marker=$NODE_DIR/imported/$(basename "$(dirname "$tar")")
    [ -f "$marker" ] && continue
    in_node "$containerd_dir/bin/ctr" --address /run/containerd/containerd.sock -n k8s.io images import \
      --platform linux/amd64 "$tar" >>"$STATE_DIR/logs/images.log" 2>&1 ||
      die "images: importing $ref from $tar into containerd failed; see $STATE_DIR/logs/images.log"
    touch "$marker"
    log "image $ref imported"
  done <"$STATE_DIR/images.txt"
}

premade_pvs() { # local PVs in three sizes for the default class; the kubelet applies fsGroup to them
  local size i lower
  for size in 1Gi:8 10Gi:8 50Gi:4; do
    lower=${size%:*}; lower=${lower,,}
    for ((i = 0; i < ${size#*:}; i++)); do
      mkdir -p "$STATE_DIR/volumes/local-pv-${lower}-$i"
      cat <<PV
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-pv-${lower}-$i
  labels: {mlflow-k8s.local/harness: "true"}
spec:
  storageClassName: standard
  capacity: {storage: ${size%:*}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  local: {path: $STATE_DIR/volumes/local-pv-${lower}-$i}
  # Both nodes carry the label: KWOK-scheduled test workloads bind these volumes too.
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: mlflow-k8s.local/volumes, operator: In, values: ["true"]}
PV
    done
  done
}

make_pki
write_kubeconfigs
# shellcheck disable=SC2086 # a list of names
bash "$here/images/build.sh" ${MLFLOW_K8S_IMAGES:-} >"$STATE_DIR/images.txt.tmp"
mv "$STATE_DIR/images.txt.tmp" "$STATE_DIR/images.txt"
make_netns
start_forwarder
start_control_plane
kc() { in_netns "$BIN_DIR/kubectl" --kubeconfig "$pki/admin.kubeconfig" "$@"; }
# Before the node: kube-router needs its RBAC when it starts.
COREDNS_IMAGE=$(image_ref coredns); export COREDNS_IMAGE
for manifest in kube-router coredns node storageclass; do
  render "$here/manifests/$manifest.yaml" | kc apply --server-side --field-manager mlflow-k8s-harness -f - >&2
done
premade_pvs | kc apply --server-side --field-manager mlflow-k8s-harness -f - >&2
start_node
wait_for kubelet 90 kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s
# kube-router identifies its node by name at start: only once the kubelet has registered it.
launch_node kube-router "$kube_router_dir/bin/kube-router" --kubeconfig "$pki/kube-router.kubeconfig" \
  --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
  --hostname-override "$NODE_NAME" --service-cluster-ip-range "$SERVICE_CIDR" --health-port 20244 --metrics-port 0
wait_for kube-router 60 in_node curl -fsS http://127.0.0.1:20244/healthz
wait_for kwok 90 kc wait --for=condition=Ready node/kwok-node-0 --timeout=5s
wait_for kubelet 120 kc -n kube-system rollout status deployment/coredns --timeout=5s
# The default ServiceAccount is created by a controller; pods cannot be admitted before it exists.
wait_for kube-controller-manager 60 kc -n default get serviceaccount default
wait_for forwarder 30 "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" get --raw /readyz

log "ready: kubectl --kubeconfig $KUBECONFIG_PATH get nodes"
echo "$KUBECONFIG_PATH"
