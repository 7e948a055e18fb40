#!/usr/bin/env bash
# Fails when the JavaScript and CSS the dashboard loads at start exceed the budget (gzipped).
# Usage: scripts/bundle-size.sh [dist dir] [budget KiB]
set -euo pipefail
dist=${1:-frontend/dist}
budget_kib=${2:-250}
total=0
# What index.html references is what loads at start (lazy chunks are not counted).
for asset in $(grep -oE '(src|href)="/assets/[^"]+\.(js|css)"' "$dist/index.html" | sed -E 's/.*="\/(.*)"/\1/'); do
  size=$(gzip -9 -c "$dist/$asset" | wc -c)
  awk -v a="$asset" -v s="$size" 'BEGIN { printf "  %-40s %7.1f KiB gzipped\n", a, s / 1024 }'
  total=$((total + size))
done
awk -v t="$total" -v b="$budget_kib" 'BEGIN { printf "initial JS+CSS: %.1f KiB gzipped (budget %s KiB)\n", t / 1024, b }'
[ "$total" -le $((budget_kib * 1024)) ] || { echo "over budget" >&2; exit 1; }
