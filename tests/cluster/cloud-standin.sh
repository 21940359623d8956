#!/usr/bin/env bash
# lib.sh (sourced) assigns $here and the *_dir paths; ansible-test runs shellcheck without -x.
# shellcheck disable=SC2154
# Stands in for the cloud parts of a cluster:
# - a load balancer: gives every LoadBalancer Service without an address its spec.loadBalancerIP
#   when set, else one from 203.0.113.0/24 (TEST-NET-3, never routed) derived from its
#   namespace/name so it is stable across restarts;
# - a volume provisioner's supply: the harness's pre-made PVs (label mlflow-k8s.local/harness)
#   that a deleted claim left Released are wiped (as a provisioner deletes the disk) and made
#   Available again, so a long-lived cluster does not run out and no claim sees another's
#   data. PVs of other classes or without the label are never touched.
set -uo pipefail
kubeconfig=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
kc=("$BIN_DIR/kubectl" --kubeconfig "$kubeconfig")
query='{range .items[?(@.spec.type=="LoadBalancer")]}{.metadata.namespace}|{.metadata.name}|{.spec.loadBalancerIP}|{.status.loadBalancer.ingress[0].ip}{"\n"}{end}'
pv_query='{range .items[?(@.status.phase=="Released")]}{.metadata.name}|{.spec.local.path}{"\n"}{end}'
while sleep 2; do
  "${kc[@]}" get pv -l mlflow-k8s.local/harness=true -o "jsonpath=$pv_query" 2>/dev/null |
  while IFS='|' read -r pv path; do
    [ -n "$pv" ] || continue
    case "$path" in "$STATE_DIR"/volumes/?*) find "$path" -mindepth 1 -delete ;; *) continue ;; esac
    "${kc[@]}" patch pv "$pv" --type=json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null &&
      echo "$(date -u +%FT%TZ) pv/$pv recycled"
  done
  "${kc[@]}" get services --all-namespaces -o "jsonpath=$query" 2>/dev/null |
  while IFS='|' read -r ns name wanted current; do
    if [ -z "$ns" ] || [ -n "$current" ]; then continue; fi
    ip=$wanted
    [ -n "$ip" ] || ip=203.0.113.$(( $(printf '%s/%s' "$ns" "$name" | cksum | cut -d' ' -f1) % 240 + 10 ))
    if "${kc[@]}" -n "$ns" patch service "$name" --subresource=status --type=merge \
        -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$ip\"}]}}}" >/dev/null; then
      echo "$(date -u +%FT%TZ) $ns/$name -> $ip"
    fi
  done
done
