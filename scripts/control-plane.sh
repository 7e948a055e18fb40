#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver, nothing else) for the end-to-end tests.
#
#   scripts/control-plane.sh build       build etcd, kube-apiserver and kubectl from source (once;
#                                        cached under ~/.cache/ci-cd-monitor/control-plane/), print the bin dir
#   scripts/control-plane.sh start DIR   start etcd and kube-apiserver on free loopback ports with state in
#                                        DIR, wait for /readyz, print the admin kubeconfig's path
#   scripts/control-plane.sh stop DIR    stop both (a no-op when nothing runs)
#   scripts/control-plane.sh bin         print the bin dir (building first if needed)
#
# CICD_CONTROL_PLANE_BIN=DIR uses etcd, kube-apiserver and kubectl from DIR instead of building them.
#
# The binaries come from the wrapper Go module operator/e2e/control-plane (k8s.io/kubernetes with
# its staging modules replaced by their published releases; etcd at the version Kubernetes pins).
# There is no controller-manager, scheduler or kubelet: no pods run, namespaces are never finalized
# and no garbage collector removes owned objects. Authentication: client certificates (the admin
# is in group system:masters) and service account tokens (`kubectl create token`); authorization: RBAC.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module=$(cd "$here/../operator/e2e/control-plane" && pwd)
die() { echo "control-plane.sh: $*" >&2; exit 1; }
log() { echo "control-plane.sh: $*" >&2; }

k8s_version() {
  sed -nE 's|^(require)?[[:space:]]*k8s\.io/kubernetes (v[^ ]+).*|\2|p' "$module/go.mod" | head -n 1
}
cache_root() { echo "${CICD_CACHE_DIR:-$HOME/.cache/ci-cd-monitor}/control-plane/$(k8s_version)"; }

# The machine's Go (/usr/local/go on this project's machines). The wrapper module needs go >= 1.26.0;
# an older go fetches that toolchain from the Go module proxy by itself (GOTOOLCHAIN=auto).
go_bin() {
  local g
  g=$(command -v go || true)
  [ -n "$g" ] || [ ! -x /usr/local/go/bin/go ] || g=/usr/local/go/bin/go
  [ -n "$g" ] || die "Go is needed to build the control plane (go >= 1.21; the module asks for 1.26)"
  echo "$g"
}

# What the cached binaries were built from: a rebuild happens only when one of these changes.
inputs_hash() {
  (cd "$module" && cat go.mod go.sum $(find cmd -name '*.go' | sort)) | sha256sum | cut -c1-16
}

build() {
  local root bin hash go version start t0 tmp
  root=$(cache_root)
  bin="$root/bin"
  hash=$(inputs_hash)
  # One build at a time: `make test` starts one in the background, and the e2e tests wait for it here.
  mkdir -p "$root"
  exec 9>"$root.lock"
  flock 9
  if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kubectl" ] && [ -x "$bin/etcd" ] \
    && [ "$(cat "$root/inputs" 2>/dev/null)" = "$hash" ]; then
    log "cached binaries in $bin"
    echo "$bin"; return
  fi
  go=$(go_bin)
  version=$(k8s_version)
  mkdir -p "$root"
  tmp="$root/bin.partial"
  rm -rf "$tmp"
  start=$(date +%s)
  log "building etcd, kube-apiserver and kubectl $version from source with $("$go" version | cut -d' ' -f3) (once; about 17 minutes of CPU time, so 10 minutes on 2 idle cores)"
  t0=$(date +%s)
  (cd "$module" && GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=${GOTOOLCHAIN:-auto} "$go" mod download) \
    || die "go mod download failed"
  log "modules downloaded in $(($(date +%s) - t0)) s"
  # The version stamps are what `hack/lib/version.sh` would set; without them the binaries say v0.0.0.
  local minor=${version#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  local target
  for target in ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl; do
    t0=$(date +%s)
    (cd "$module" && GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=${GOTOOLCHAIN:-auto} CGO_ENABLED=0 \
      "$go" build -p "${CICD_GO_BUILD_JOBS:-2}" -trimpath -ldflags "$ldflags" -o "$tmp/" "$target") \
      || die "go build $target failed"
    log "built $(basename "$target") in $(($(date +%s) - t0)) s"
  done
  rm -rf "$bin"
  mv "$tmp" "$bin"
  echo "$hash" >"$root/inputs"
  log "control plane $version built in $(($(date +%s) - start)) s: $bin"
  echo "$bin"
}

bin_dir() {
  local root
  if [ -n "${CICD_CONTROL_PLANE_BIN:-}" ]; then echo "$CICD_CONTROL_PLANE_BIN"; return; fi
  root=$(cache_root)
  if [ -x "$root/bin/kube-apiserver" ] && [ "$(cat "$root/inputs" 2>/dev/null)" = "$(inputs_hash)" ]; then
    echo "$root/bin"
  else
    build
  fi
}

# N free loopback ports, in one interpreter start (python3 may be a slow pyenv shim).
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# A CA, the apiserver's serving certificate (127.0.0.1, localhost and the in-cluster names), an admin
# client certificate in group system:masters, and the service-account signing key (ES256). ECDSA
# P-256 keys throughout: generating them takes milliseconds where RSA takes seconds on a busy machine.
certs() {
  local pki=$1
  [ -s "$pki/admin.crt" ] && return
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 365 \
      -subj "/CN=cicd-e2e-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    sign() { # NAME SUBJECT EXTENSIONS
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 365 \
        -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver "/CN=kube-apiserver" "$(printf '%s\n' "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
    sign admin "/O=system:masters/CN=cicd-e2e-admin" "extendedKeyUsage=clientAuth"
    openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || die "openssl failed"
}

# Waits until URL answers `ok` (with the admin certificate), or the process in PIDFILE dies.
wait_ok() {
  local url=$1 pidfile=$2 what=$3 logfile=$4 i
  for i in $(seq 1 600); do
    if curl -sf --max-time 2 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
      "$url" 2>/dev/null | grep -q '^ok'; then
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -n 40 "$logfile" >&2; die "$what exited"; }
    sleep 0.2
  done
  tail -n 40 "$logfile" >&2
  die "$what not ready after 120 s"
}

start() {
  local bin etcd_port peer_port api_port t0
  t0=$(date +%s%N)
  bin=$(bin_dir)
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
  if [ -f "$dir/kube-apiserver.pid" ] && kill -0 "$(cat "$dir/kube-apiserver.pid")" 2>/dev/null; then
    echo "$dir/kubeconfig"; return
  fi
  certs "$dir/pki"
  read -r etcd_port peer_port api_port < <(free_ports 3)
  # etcd: one member, plain HTTP on loopback, no fsync (test data only).
  setsid "$bin/etcd" --name e2e --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "e2e=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn \
    >"$dir/etcd.log" 2>&1 </dev/null &
  echo $! >"$dir/etcd.pid"
  for _ in $(seq 1 150); do
    curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"' && break
    kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null || { tail -n 40 "$dir/etcd.log" >&2; die "etcd exited"; }
    sleep 0.2
  done
  setsid "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --profiling=false \
    >"$dir/kube-apiserver.log" 2>&1 </dev/null &
  echo $! >"$dir/kube-apiserver.pid"
  echo "$api_port" >"$dir/port"
  cat >"$dir/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $dir/pki/ca.crt
users:
- name: e2e-admin
  user:
    client-certificate: $dir/pki/admin.crt
    client-key: $dir/pki/admin.key
contexts:
- name: e2e
  context: {cluster: e2e, user: e2e-admin, namespace: default}
current-context: e2e
KUBECONFIG
  wait_ok "https://127.0.0.1:$api_port/readyz" "$dir/kube-apiserver.pid" kube-apiserver "$dir/kube-apiserver.log"
  log "etcd (:$etcd_port) and kube-apiserver (https://127.0.0.1:$api_port) ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms; logs in $dir"
  echo "$dir/kubeconfig"
}

# SIGTERM, up to 10 s, then SIGKILL.
stop_one() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop() {
  [ -d "$1" ] || return 0
  stop_one "$1/kube-apiserver.pid"
  stop_one "$1/etcd.pid"
}

case "${1:-}" in
  build) build ;;
  bin) bin_dir ;;
  start) start "${2:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  *) die "usage: control-plane.sh build|bin|start DIR|stop DIR" ;;
esac
