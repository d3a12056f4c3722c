#!/usr/bin/env bash
# The documented network's recipe, swept: each candidate trains from scratch on mnist-sample (seed 0) for STEPS
# steps keeping every checkpoint (--keep-checkpoints 0), then `evaluate` scores the checkpoints at AT (the steps the
# default recipe makes in 2 and 5 minutes on the idle 2-core machine: five_minutes.sh prints them). Steps, not
# seconds, so candidates can share the machine without their load deciding the result; lazy R1 trains more steps
# per second, which five_minutes.sh measures on its own.
# Usage: benchmarks/recipe_sweep.sh [NAME ...]   (default: every candidate below)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-35000}
AT=${AT:-15000 35000}
declare -A FLAGS=(
  [lr2e-4]="--g-learning-rate 2e-4 --d-learning-rate 2e-4"
  [lr5e-4]="--g-learning-rate 5e-4 --d-learning-rate 5e-4"
  [lr1e-3]="--g-learning-rate 1e-3 --d-learning-rate 1e-3"
  [lr5e-4-lazy16]="--g-learning-rate 5e-4 --d-learning-rate 5e-4 --r1-every 16"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(lr2e-4 lr5e-4 lr1e-3 lr5e-4-lazy16)
for name in "${names[@]}"; do
  [ -n "${FLAGS[$name]+x}" ] || { echo "unknown candidate: $name" >&2; exit 2; }
  out="runs/sweep-$name"
  if [ ! -d "$out/checkpoints" ]; then
    # shellcheck disable=SC2086
    "$PY" -m gan_core train --dataset mnist-sample --seed 0 --steps "$STEPS" --checkpoint-every 2500 \
      --keep-checkpoints 0 --out "$out" ${FLAGS[$name]}
  fi
  for step in $AT; do
    folder=$(printf "%s/checkpoints/step-%08d" "$out" "$step")
    [ -f "$folder/eval.json" ] || [ ! -d "$folder" ] || "$PY" -m gan_core evaluate --weights "$folder" --n 10000 --json "$folder/eval.json" > /dev/null
  done
done
echo "| candidate | flags | $(for s in $AT; do printf 'FID / floor at %s | ' "$s"; done)classes | KL |"
echo "|---|---|$(for s in $AT; do printf -- '---|'; done)---|---|"
for name in "${names[@]}"; do
  "$PY" - "$name" "${FLAGS[$name]}" $AT <<'PY'
import json, sys
name, flags, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
from pathlib import Path
files = [Path(f"runs/sweep-{name}/checkpoints/step-{int(s):08d}/eval.json") for s in steps]
reports = [json.loads(f.read_text()) if f.is_file() else None for f in files]  # None: that checkpoint is gone
last = reports[-1]["generated"]
print(f"| {name} | `{flags}` | " + " | ".join(f"{r['fid_ratio']:.1f}" if r else "-" for r in reports)
      + f" | {last['classes_covered']} | {last['kl_to_uniform']:.3f} |")
PY
done
