#!/usr/bin/env bash
# Runs every benchmark under bench/ (each prints its figures and the machine). Not part of `make test`.
# Run on a quiet machine: the figures in docs/performance.md come from these scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh
for script in bench/[a-z]*.py; do
  echo "== $script"
  .venv/bin/python "$script"
done
