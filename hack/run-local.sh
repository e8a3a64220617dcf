#!/usr/bin/env bash
# Starts virtualization-apiserver on this machine with its embedded etcd in .local/, writes
# .local/kubeconfig for kubectl, and runs in the foreground until Ctrl-C.
#
# Today the server runs standalone: kubectl talks to it directly and every request is allowed
# (it binds to 127.0.0.1 only). Behind kube-apiserver, authentication and RBAC are delegated.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${ROOT}/.local"
PORT="${PORT:-6443}"
mkdir -p "${STATE}"

cat >"${STATE}/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:${PORT}
    insecure-skip-tls-verify: true
users:
- name: local
  user:
    token: standalone
contexts:
- name: local
  context: {cluster: local, user: local, namespace: default}
current-context: local
KCFG

cat <<MSG
virtualization-apiserver is starting on https://127.0.0.1:${PORT} (data in ${STATE}/apiserver).

  export KUBECONFIG=${STATE}/kubeconfig
  kubectl api-resources --api-group=virtualization.deckhouse.io
  kubectl apply -f test/corpus/validation/virtualmachine/valid-linux-vm.yaml
  kubectl get vm -o wide
  kubectl explain virtualmachine.spec.cpu

Ctrl-C stops it; objects stay in ${STATE}/apiserver for the next run.
MSG

exec "${ROOT}/bin/virtualization-apiserver" \
    --standalone \
    --bind-address 127.0.0.1 \
    --secure-port "${PORT}" \
    --data-dir "${STATE}/apiserver" \
    ${VIRTUALIZATION_CONFIG:+--config "${VIRTUALIZATION_CONFIG}"}
