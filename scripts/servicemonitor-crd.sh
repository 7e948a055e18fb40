#!/usr/bin/env bash
# Prints the path of the Prometheus Operator's ServiceMonitor CRD, so that the chart's ServiceMonitors
# can be dry-run against a real kube-apiserver. The CRD comes from the Go module proxy: the
# github.com/prometheus-operator/prometheus-operator module ships its generated CRDs under
# example/prometheus-operator-crd/. Downloaded once into ~/.cache/ci-cd-monitor/go-mod.
set -euo pipefail
version=${CICD_PROMETHEUS_OPERATOR_VERSION:-v0.94.0}
module=github.com/prometheus-operator/prometheus-operator
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "servicemonitor-crd.sh: Go is needed to download $module" >&2; exit 1; }
export GOMODCACHE=${CICD_CACHE_DIR:-$HOME/.cache/ci-cd-monitor}/go-mod GOFLAGS=-modcacherw GO111MODULE=on
crd=$GOMODCACHE/$module@$version/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
if [ ! -s "$crd" ]; then
  # Outside any module, so that no go.mod around the working directory is consulted.
  (cd / && "$go" mod download "$module@$version") >&2
fi
[ -s "$crd" ] || { echo "servicemonitor-crd.sh: $crd missing from $module@$version" >&2; exit 1; }
echo "$crd"
