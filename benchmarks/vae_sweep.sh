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
BASE="--model vae --latent-dim 16 --g-learning-rate 1e-3 --beta1 0.9 --batch-size 128"  # as shipped
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
# shellcheck source=benchmarks/sweep_lib.sh
source benchmarks/sweep_lib.sh
for name in "${names[@]}"; do
  [ -n "${FLAGS[$name]+x}" ] || { echo "unknown candidate: $name" >&2; exit 2; }
  # shellcheck disable=SC2086
  sweep_train_and_score "runs/vae-sweep-$name" 5000 10000 "$AT" $BASE ${FLAGS[$name]}
done
sweep_table vae-sweep "$AT" "${names[@]}"
