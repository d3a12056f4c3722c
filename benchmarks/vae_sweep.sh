#!/usr/bin/env bash
# The VAE's recipe, swept: each candidate trains the shipped VAE's networks (16-D latent, 784-256-16 / 16-256-784)
# from scratch on mnist-sample (seed 0) for STEPS steps keeping every checkpoint (--keep-checkpoints 0), then
# `evaluate` scores the checkpoints at AT. Steps, not seconds, so candidates can share the machine. The shipped
# VAE trained 20,000 steps (90 s on the idle machine); STEPS=100000 AT="20000 50000 100000" shows the longer curve.
# Usage: benchmarks/vae_sweep.sh [NAME ...]   (default: every candidate below)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-20000}
AT=${AT:-10000 20000}
BASE="--model vae --latent-dim 16 --g-learning-rate 1e-3 --beta1 0.9"
declare -A FLAGS=(
  [kl1]="--kl-weight 1"
  [kl0.5]="--kl-weight 0.5"
  [kl0.25]="--kl-weight 0.25"
  [kl2]="--kl-weight 2"
  [warmup5k]="--kl-weight 1 --kl-warmup-steps 5000"
  [gaussian]="--likelihood gaussian"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(kl1 kl0.5 kl2 warmup5k gaussian)
for name in "${names[@]}"; do
  [ -n "${FLAGS[$name]+x}" ] || { echo "unknown candidate: $name" >&2; exit 2; }
  out="runs/vae-sweep-$name"
  if [ ! -d "$out/checkpoints" ]; then
    # shellcheck disable=SC2086
    "$PY" -m gan_core train --dataset mnist-sample --seed 0 --steps "$STEPS" --checkpoint-every 5000 \
      --keep-checkpoints 0 --out "$out" $BASE ${FLAGS[$name]}
  fi
  for step in $AT; do
    folder=$(printf "%s/checkpoints/step-%08d" "$out" "$step")
    [ -f "$folder/eval.json" ] || [ ! -d "$folder" ] || "$PY" -m gan_core evaluate --weights "$folder" --n 10000 --json "$folder/eval.json" > /dev/null
  done
done
echo "| candidate | flags | $(for s in $AT; do printf 'FID / floor at %s | ' "$s"; done)classes | KL | precision | recall |"
echo "|---|---|$(for s in $AT; do printf -- '---|'; done)---|---|---|---|"
for name in "${names[@]}"; do
  "$PY" - "$name" "${FLAGS[$name]}" $AT <<'PY'
import json, sys
name, flags, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
from pathlib import Path
files = [Path(f"runs/vae-sweep-{name}/checkpoints/step-{int(s):08d}/eval.json") for s in steps]
reports = [json.loads(f.read_text()) if f.is_file() else None for f in files]  # None: that checkpoint is gone
last = next((r for r in reversed(reports) if r), None)
row = last["generated"] if last else None
tail = (f"{row['classes_covered']} | {row['kl_to_uniform']:.3f} | {row['precision']:.2f} | {row['recall']:.2f}" if row
        else "- | - | - | -")
print(f"| {name} | `{flags}` | " + " | ".join(f"{r['fid_ratio']:.1f}" if r else "-" for r in reports) + f" | {tail} |")
PY
done
