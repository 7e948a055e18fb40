#!/usr/bin/env bash
# Runs a command against a throwaway Kubernetes control plane (etcd + kube-apiserver, see
# control-plane.sh) that exists only for the command's duration: KUBECONFIG names its admin
# kubeconfig, PATH starts with its bin dir (so `kubectl` is the one built with it, not the machine's),
# and both servers are stopped and their state removed on exit, even on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$("$here/control-plane.sh" bin)
dir=$(mktemp -d "${TMPDIR:-/tmp}/cicd-k8s.XXXXXX")
cleanup() {
  "$here/control-plane.sh" stop "$dir"
  if [ -n "${CICD_KEEP_CONTROL_PLANE_LOGS:-}" ]; then
    mkdir -p "$CICD_KEEP_CONTROL_PLANE_LOGS" && cp "$dir"/*.log "$CICD_KEEP_CONTROL_PLANE_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
KUBECONFIG=$("$here/control-plane.sh" start "$dir")
export KUBECONFIG KUBECTL="$bin/kubectl" PATH="$bin:$PATH"
echo "with-control-plane: kube-apiserver at $(sed -n 's/^ *server: //p' "$KUBECONFIG")" >&2
"$@"
