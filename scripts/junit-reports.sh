#!/usr/bin/env bash
# Writes JUnit XML reports made by real test runners, for the backend's JUnit upload tests:
# runs the three sample projects under tests/junit/ (see tests/junit/README.md) and writes
#   <outdir>/pytest-retries.xml  pytest --junitxml (xunit2) with pytest-rerunfailures --reruns 2
#   <outdir>/pytest-run1.xml     no retries: the flaky test fails
#   <outdir>/pytest-run2.xml     no retries, a second run of the same commit: the flaky test passes
#   <outdir>/jest-{retries,run1,run2}.xml  jest + jest-junit, retries by jest.retryTimes(2)
#   <outdir>/go-{retries,run1,run2}.xml    go test through gotestsum, retries by --rerun-fails=2
#   <outdir>/expected.json       what each file should amount to (tests/junit/expected.json)
# Every suite fails on purpose; that is not an error here. The script fails when an install
# fails, a runner ends other than with its "tests failed" exit code (1), or a report is missing
# or empty.
#
# Tools are installed when missing or at another version, outside the repository:
#   ${CICD_CACHE:-$HOME/.cache/ci-cd-monitor}/junit/venv  pytest and plugins (python/requirements.txt)
#   ${CICD_CACHE:-$HOME/.cache/ci-cd-monitor}/junit/bin   gotestsum (go install)
#   tests/junit/node/node_modules                         jest, jest-junit (npm ci, git-ignored)
# The flaky tests count their attempts in a fresh directory per run ($JUNIT_FLAKE_DIR) so that
# the first attempt fails and the next passes, every time; JUNIT_FLAKE_PASS=1 makes the first
# attempt pass.
#
# Usage: scripts/junit-reports.sh <outdir>
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <outdir>" >&2
  exit 2
fi

started=$SECONDS
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/tests/junit
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=${CICD_CACHE:-$HOME/.cache/ci-cd-monitor}/junit
venv=$cache/venv
gobin=$cache/bin
gotestsum_version=v1.13.0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/junit-reports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Nothing the runners do may wait for input, fetch a Go toolchain, or leave files in the checkout.
exec </dev/null
export GOTOOLCHAIN=local PYTHONDONTWRITEBYTECODE=1 PYTEST_ADDOPTS=
unset JUNIT_FLAKE_DIR JUNIT_FLAKE_PASS JUNIT_RETRIES

echo "junit-reports: reports -> $out; tools -> $cache, $src/node/node_modules"

# quiet <what> <command…>: runs an install step, showing its output only when it fails.
quiet() {
  local what=$1 log=$tmp/install.log
  shift
  echo "junit-reports: installing $what" >&2
  if ! "$@" >"$log" 2>&1; then
    echo "junit-reports: installing $what failed:" >&2
    cat "$log" >&2
    exit 1
  fi
}

need() {
  command -v "$1" >/dev/null || { echo "junit-reports: $1 is needed ($2)" >&2; exit 1; }
}
need python3 "Python 3 for the pytest project"
need node "Node.js >= 18 for the jest project"
need npm "npm for the jest project"
need go "Go for gotestsum and the Go project"

# --- Python: a venv with the pinned requirements; the stamp holds what it was built from.
py_stamp="$(sha256sum <"$src/python/requirements.txt" | cut -d' ' -f1) $(python3 -V 2>&1)"
if [ "$(cat "$venv/.junit-stamp" 2>/dev/null)" != "$py_stamp" ] || ! "$venv/bin/python" -V >/dev/null 2>&1; then
  rm -rf "$venv"
  mkdir -p "$cache"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    export DEBIAN_FRONTEND=noninteractive
    apt_venv() { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv; }
    quiet "python3-venv (apt-get)" apt_venv
    python3 -m venv "$venv"
  fi
  quiet "pytest ($venv)" "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --only-binary=:all: -r "$src/python/requirements.txt"
  echo "$py_stamp" >"$venv/.junit-stamp"
fi

# --- Go: gotestsum at the pinned version.
if [ "$("$gobin/gotestsum" --version 2>/dev/null)" != "gotestsum version $gotestsum_version" ]; then
  mkdir -p "$gobin"
  go_install() { (cd "$cache" && GOBIN=$gobin go install "gotest.tools/gotestsum@$gotestsum_version"); }
  quiet "gotestsum $gotestsum_version ($gobin)" go_install
fi

# --- Node: npm ci from the committed lock file, redone when the lock file or Node changes.
# --ignore-scripts: nothing here needs one (jest-haste-map's optional @parcel/watcher would
# otherwise try a node-gyp build; its prebuilt package is used instead).
node_stamp="$(sha256sum <"$src/node/package-lock.json" | cut -d' ' -f1) $(node -v)"
if [ "$(cat "$src/node/node_modules/.junit-stamp" 2>/dev/null)" != "$node_stamp" ] \
  || [ ! -f "$src/node/node_modules/jest/bin/jest.js" ]; then
  npm_ci() { (cd "$src/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); }
  quiet "jest (npm ci in $src/node)" npm_ci
  echo "$node_stamp" >"$src/node/node_modules/.junit-stamp"
fi

# suite <report> <dir> <pass-first-attempt: 0|1> <command…>: runs one suite in <dir> with a fresh
# flake directory. The suites fail on purpose, so exit code 1 is what a good run ends with.
suite() {
  local report=$out/$1 dir=$2 pass=$3 rc=0 log flake
  shift 3
  log=$tmp/${report##*/}.log
  flake=$(mktemp -d "$tmp/flake.XXXXXX")
  rm -f "$report"
  (cd "$dir" && JUNIT_FLAKE_DIR=$flake JUNIT_FLAKE_PASS=$pass JUNIT_REPORT=$report "$@") >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 1 ] || [ ! -s "$report" ] || ! grep -q '<testcase' "$report"; then
    echo "junit-reports: ${report##*/}: exit code $rc (1 expected), report $([ -s "$report" ] && echo written || echo missing or empty); output:" >&2
    cat "$log" >&2
    exit 1
  fi
}

# The runners, each with or without retries.
pytest_() { "$venv/bin/python" -m pytest -p no:cacheprovider -q --junitxml="$JUNIT_REPORT" "$@"; }
jest_() { # <retries>
  JUNIT_RETRIES=$1 JEST_JUNIT_OUTPUT_FILE=$JUNIT_REPORT node node_modules/jest/bin/jest.js --ci --runInBand \
    --cacheDirectory "$JUNIT_FLAKE_DIR/jest-cache"
}
gotestsum_() { "$gobin/gotestsum" --format dots --junitfile "$JUNIT_REPORT" --packages ./... "$@" -- -count=1; }

suite pytest-retries.xml "$src/python" 0 pytest_ --reruns 2
suite pytest-run1.xml "$src/python" 0 pytest_
suite pytest-run2.xml "$src/python" 1 pytest_
suite jest-retries.xml "$src/node" 0 jest_ 2
suite jest-run1.xml "$src/node" 0 jest_ 0
suite jest-run2.xml "$src/node" 1 jest_ 0
suite go-retries.xml "$src/go" 0 gotestsum_ --rerun-fails=2
suite go-run1.xml "$src/go" 0 gotestsum_
suite go-run2.xml "$src/go" 1 gotestsum_

cp "$src/expected.json" "$out/expected.json"
echo "junit-reports: 9 reports and expected.json written in $((SECONDS - started)) s"
