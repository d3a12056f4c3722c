#!/usr/bin/env bash
# Runs `python -m gan_core evaluate` on every shipped model, then gathers the reports into
# benchmarks/quality.json (read by the app's Compare page) and the table in benchmarks/quality.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
N=${N:-10000}
for name in gan cgan wgan_gp dcgan vae vae2d ae; do
  [ -d "pretrained/$name" ] || continue
  "$PY" -m gan_core evaluate --weights "pretrained/$name" --n "$N" --json "benchmarks/quality/$name.json"
done
"$PY" benchmarks/quality_table.py
