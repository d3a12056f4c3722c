#!/usr/bin/env bash
# The WGAN-GP recipe, swept (issue 19): the documented networks with the WGAN-GP loss, each candidate trained from
# scratch on mnist-sample (seed 0) for STEPS generator steps keeping every checkpoint, then `evaluate` scores the
# checkpoints at AT (EVAL_N samples each). Steps, not seconds, so candidates can share the machine; they run in
# parallel. A d_steps-5 step costs about twice a d_steps-2 step (6 network passes against 3).
# Usage: benchmarks/wgan_sweep.sh [NAME ...]   (default: every candidate below)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-3000}
AT=${AT:-1000 1500 2000 3000}
EVAL_N=${EVAL_N:-5000}
COMMON="--loss wgan_gp --beta2 0.9"
declare -A FLAGS=(
  [lr5e-4-d5]="--d-steps 5 --g-learning-rate 5e-4 --d-learning-rate 5e-4"
  [lr1e-3-d5]="--d-steps 5 --g-learning-rate 1e-3 --d-learning-rate 1e-3"
  [lr5e-4-d2]="--d-steps 2 --g-learning-rate 5e-4 --d-learning-rate 5e-4"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(lr5e-4-d5 lr1e-3-d5 lr5e-4-d2)
run_one() {
  local name=$1 out="runs/wsweep-$1"
  if [ ! -d "$out/checkpoints" ]; then
    # shellcheck disable=SC2086
    "$PY" -m gan_core train --dataset mnist-sample --seed 0 --steps "$STEPS" --checkpoint-every 500 \
      --keep-checkpoints 0 --out "$out" $COMMON ${FLAGS[$name]} > "$out.log" 2>&1
  fi
  for step in $AT; do
    folder=$(printf "%s/checkpoints/step-%08d" "$out" "$step")
    [ -f "$folder/eval.json" ] || [ ! -d "$folder" ] || "$PY" -m gan_core evaluate --weights "$folder" --n "$EVAL_N" --json "$folder/eval.json" > /dev/null
  done
}
for name in "${names[@]}"; do
  [ -n "${FLAGS[$name]+x}" ] || { echo "unknown candidate: $name" >&2; exit 2; }
  run_one "$name" &
done
wait
echo "| candidate | flags | $(for s in $AT; do printf 'FID / floor at %s | ' "$s"; done)classes |"
echo "|---|---|$(for s in $AT; do printf -- '---|'; done)---|"
for name in "${names[@]}"; do
  "$PY" - "$name" "$COMMON ${FLAGS[$name]}" $AT <<'PY'
import json, sys
from pathlib import Path
name, flags, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
files = [Path(f"runs/wsweep-{name}/checkpoints/step-{int(s):08d}/eval.json") for s in steps]
reports = [json.loads(f.read_text()) if f.is_file() else None for f in files]
last = next((r for r in reversed(reports) if r), None)
print(f"| {name} | `{flags}` | " + " | ".join(f"{r['fid_ratio']:.1f}" if r else "-" for r in reports)
      + f" | {last['generated']['classes_covered'] if last else '-'} |")
PY
done
