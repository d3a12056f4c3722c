#!/usr/bin/env bash
# The documented network trained from scratch for 5 minutes of wall time on mnist-sample, with the app's
# default recipe and with the plain recipe, then scored by the evaluate command (issue: quality you can see).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
for recipe in default plain; do
  flags=(); [ "$recipe" = plain ] && flags=(--plain)
  rm -rf "runs/five-minutes-$recipe"
  "$PY" -m gan_core train --dataset mnist-sample --steps 1000000 --max-seconds 300 --checkpoint-every 100000 \
    --out "runs/five-minutes-$recipe" "${flags[@]}"
  "$PY" -m gan_core evaluate --weights "runs/five-minutes-$recipe" --n 10000 \
    --json "benchmarks/quality/run_${recipe}_5min.json"
done
"$PY" benchmarks/quality_table.py
