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
COMMON="--loss wgan_gp --beta2 0.9 --batch-size 128"  # as shipped (128 was the default then)
declare -A FLAGS=(
  [lr5e-4-d5]="--d-steps 5 --g-learning-rate 5e-4 --d-learning-rate 5e-4"
  [lr1e-3-d5]="--d-steps 5 --g-learning-rate 1e-3 --d-learning-rate 1e-3"
  [lr5e-4-d2]="--d-steps 2 --g-learning-rate 5e-4 --d-learning-rate 5e-4"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(lr5e-4-d5 lr1e-3-d5 lr5e-4-d2)
# shellcheck source=benchmarks/sweep_lib.sh
source benchmarks/sweep_lib.sh
for name in "${names[@]}"; do
  [ -n "${FLAGS[$name]+x}" ] || { echo "unknown candidate: $name" >&2; exit 2; }
  # shellcheck disable=SC2086
  sweep_train_and_score "runs/wsweep-$name" 500 "$EVAL_N" "$AT" $COMMON ${FLAGS[$name]} > "runs/wsweep-$name.log" 2>&1 &
done
wait
for name in "${names[@]}"; do FLAGS[$name]="$COMMON ${FLAGS[$name]}"; done
sweep_table wsweep "$AT" "${names[@]}"
