#!/usr/bin/env bash
# The documented network trained from scratch for SECONDS of wall time (default 300) on mnist-sample, once per
# recipe, one after another, then scored by the evaluate command. Run it on an otherwise idle machine: the score
# depends on how many steps fit in the time. Recipes: the app's default (batch 32 since 30 November), the default
# as it was before (`b128`), and before its learning rate rose to 1e-3 (`lr2e-4`, batch 128), and the textbook
# recipe (`plain`, batch 128); the batch-size candidates that chose 32 (`b32`, the default now, `b64`, `b256`), a
# weaker R1 penalty at batch 128 (`r1-0.3`; the default is 1.0), and R1 0.3 at batch 64 (`b64-r1-0.3`).
# Usage: benchmarks/five_minutes.sh [RECIPE ...]     (BUDGET_S=120 for the two-minute column)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SECONDS_BUDGET=${BUDGET_S:-300}
suffix=$([ "$SECONDS_BUDGET" = 300 ] && echo 5min || echo "${SECONDS_BUDGET}s")
recipes=("$@")
[ ${#recipes[@]} -eq 0 ] && recipes=(default b128 lr2e-4 plain)
for recipe in "${recipes[@]}"; do
  case $recipe in
    default) flags=() ;;
    b128)    flags=(--batch-size 128) ;;
    lr2e-4)  flags=(--g-learning-rate 2e-4 --d-learning-rate 2e-4 --batch-size 128) ;;
    plain)   flags=(--plain) ;;
    b32)     flags=(--batch-size 32) ;;
    b64)     flags=(--batch-size 64) ;;
    b256)    flags=(--batch-size 256) ;;
    r1-0.3)  flags=(--r1-gamma 0.3 --batch-size 128) ;;
    b64-r1-0.3) flags=(--batch-size 64 --r1-gamma 0.3) ;;
    *) echo "unknown recipe: $recipe" >&2; exit 2 ;;
  esac
  out="runs/five-minutes-$recipe-$suffix"
  rm -rf "$out"
  echo "$(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg): $recipe for $SECONDS_BUDGET s"
  "$PY" -m gan_core train --dataset mnist-sample --steps 1000000 --max-seconds "$SECONDS_BUDGET" \
    --checkpoint-every 1000000 --out "$out" "${flags[@]}" | tail -n 1
  "$PY" -m gan_core evaluate --weights "$out" --n 10000 --json "benchmarks/quality/run_${recipe}_${suffix}.json" > /dev/null
done
"$PY" benchmarks/quality_table.py
