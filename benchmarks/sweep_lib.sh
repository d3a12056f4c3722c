# Shared by the recipe sweeps (recipe_sweep.sh, wgan_sweep.sh, vae_sweep.sh); source it, do not run it.
# Each candidate trains from scratch on mnist-sample (seed 0) keeping every checkpoint, then `evaluate` scores the
# checkpoints at the steps asked for; a candidate whose folder already holds checkpoints is only scored.

# sweep_train_and_score OUT EVERY EVAL_N "AT" FLAGS... : train into OUT (unless done) and score the steps in AT.
sweep_train_and_score() {
  local out=$1 every=$2 eval_n=$3 at=$4; shift 4
  if [ ! -d "$out/checkpoints" ]; then
    "$PY" -m gan_core train --dataset mnist-sample --seed 0 --steps "$STEPS" --checkpoint-every "$every" \
      --keep-checkpoints 0 --out "$out" "$@"
  fi
  local step folder
  for step in $at; do
    folder=$(printf "%s/checkpoints/step-%08d" "$out" "$step")
    [ -f "$folder/eval.json" ] || [ ! -d "$folder" ] || \
      "$PY" -m gan_core evaluate --weights "$folder" --n "$eval_n" --json "$folder/eval.json" > /dev/null
  done
}

# sweep_table PREFIX "AT" NAME... : the markdown table of runs/PREFIX-NAME (FLAGS[NAME] names each row's flags).
sweep_table() {
  local prefix=$1 at=$2 name; shift 2
  echo "| candidate | flags | $(for s in $at; do printf 'FID / floor at %s | ' "$s"; done)classes | KL | precision | recall |"
  echo "|---|---|$(for s in $at; do printf -- '---|'; done)---|---|---|---|"
  for name in "$@"; do
    "$PY" - "runs/$prefix-$name" "$name" "${FLAGS[$name]}" $at <<'PY'
import json, sys
from pathlib import Path
out, name, flags, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
files = [Path(f"{out}/checkpoints/step-{int(s):08d}/eval.json") for s in steps]
reports = [json.loads(f.read_text()) if f.is_file() else None for f in files]  # None: that checkpoint is gone
last = next((r for r in reversed(reports) if r), None)
row = last["generated"] if last else None
tail = (f"{row['classes_covered']} | {row['kl_to_uniform']:.3f} | {row['precision']:.2f} | {row['recall']:.2f}" if row
        else "- | - | - | -")
print(f"| {name} | `{flags}` | " + " | ".join(f"{r['fid_ratio']:.1f}" if r else "-" for r in reports) + f" | {tail} |")
PY
  done
}
