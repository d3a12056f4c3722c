#!/usr/bin/env bash
# Re-makes every folder under pretrained/ with the project's own CLI. Needs the MNIST test split
# (10,000 digits, IDX) in $MNIST_IDX (default ../shared/data/mnist) besides the 5,000 bundled digits.
# Usage: scripts/train_pretrained.sh [name ...]   (names: classifier gan ae vae2d vae cgan wgan_gp dcgan)
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST_IDX=${MNIST_IDX:-../shared/data/mnist}
DATA="idx:$MNIST_IDX+mnist-sample"
PY=${PY:-.venv/bin/python}
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(gan ae vae2d vae cgan wgan_gp dcgan)

train() {  # train NAME ARGS... : trains into runs/pretrain-NAME, copies the newest checkpoint to pretrained/NAME
  # Every shipped model was trained at batch 128, the default before 30 November (it is 32 since); the cgan and
  # the dcgan at Adam 2e-4, the default before 29 November (1e-3 since). tests/test_pretrained_commands.py checks
  # that each command's config is the one its folder holds.
  local name=$1; shift
  rm -rf "runs/pretrain-$name"
  "$PY" -m gan_core train --dataset "$DATA" --seed 0 --batch-size 128 --out "runs/pretrain-$name" "$@"
  ship "$name"
}

resume() {  # resume NAME ARGS... : continues runs/pretrain-NAME (fresh Adam state), then ships it as train does
  local name=$1; shift
  "$PY" -m gan_core train --dataset "$DATA" --seed 0 --out "runs/pretrain-$name" --resume "$@"
  ship "$name"
}

ship() {
  local name=$1
  local newest; newest=$(ls -d "runs/pretrain-$name"/checkpoints/step-* | tail -n 1)
  rm -rf "pretrained/$name"; mkdir -p "pretrained/$name"
  cp "$newest"/* "pretrained/$name/"
  "$PY" -m gan_core sample --weights "pretrained/$name" --n 100 --out "runs/pretrain-$name/grid.npy" \
    --png "pretrained/${name}_samples.png"
}

for name in "${names[@]}"; do
  case $name in
    classifier) "$PY" -m gan_core train-classifier --dataset "idx:$MNIST_IDX" --holdout mnist-sample \
                  --out pretrained/classifier --epochs 12 ;;
    gan)     train gan --steps 60000 --checkpoint-every 10000 ;;
    ae)      train ae --model ae --latent-dim 16 --g-learning-rate 1e-3 --beta1 0.9 --steps 20000 ;;
    vae2d)   train vae2d --model vae --latent-dim 2 --g-learning-rate 1e-3 --beta1 0.9 --steps 60000 ;;
    vae)     train vae --model vae --latent-dim 16 --g-learning-rate 1e-3 --beta1 0.9 --steps 60000 \
               --checkpoint-every 20000 --keep-checkpoints 0
             resume vae --steps 120000 --checkpoint-every 20000 --keep-checkpoints 0 ;;
    cgan)    train cgan --model cgan --g-learning-rate 2e-4 --d-learning-rate 2e-4 --steps 60000 --checkpoint-every 10000 ;;
    wgan_gp) train wgan_gp --loss wgan_gp --d-steps 5 --g-learning-rate 1e-3 --d-learning-rate 1e-3 \
               --beta2 0.9 --steps 40000 --checkpoint-every 2500 --keep-checkpoints 0
             # five resumes, as the run was made (each starts a fresh Adam state; the first was stopped at 48,000)
             resume wgan_gp --steps 48000 --checkpoint-every 2500 --keep-checkpoints 0
             resume wgan_gp --steps 60000 --checkpoint-every 2500 --keep-checkpoints 0
             resume wgan_gp --steps 67500 --checkpoint-every 2500 --keep-checkpoints 0
             resume wgan_gp --steps 70000 --checkpoint-every 2500 --keep-checkpoints 0
             resume wgan_gp --steps 80000 --checkpoint-every 2500 --keep-checkpoints 0 ;;
    dcgan)   train dcgan --architecture conv --g-learning-rate 2e-4 --d-learning-rate 2e-4 --steps 10000
             resume dcgan --steps 22500 --checkpoint-every 2500
             resume dcgan --steps 25000 --checkpoint-every 2500 --keep-checkpoints 0
             resume dcgan --steps 27500 --checkpoint-every 2500 --keep-checkpoints 0
             resume dcgan --steps 35000 --checkpoint-every 2500 --keep-checkpoints 0
             resume dcgan --steps 42500 --checkpoint-every 2500 --keep-checkpoints 0 ;;
    *) echo "unknown name: $name" >&2; exit 2 ;;
  esac
done
