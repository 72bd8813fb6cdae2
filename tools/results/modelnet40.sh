#!/usr/bin/env bash
# Reproduces docs/results.md: every method on real ModelNet40 (1024 points, the 2,468 test
# shapes, no voting) from the shipped backbone, with the same recipe, budget and seed.
# Usage: tools/results/modelnet40.sh [DATA] [EPOCHS]   (from the repository root)
# Each run writes runs/results/<name>/ (replacing an earlier run there) and appends its summary line to runs/results/summary.txt.
set -euo pipefail
data=${1:-../shared/data/ModelNet40}
epochs=${2:-2}
out=runs/results
mkdir -p "$out"
go build -o "$out/pointpeft" ./cmd/pointpeft
common=(--backbone assets/backbone-small.safetensors --data "$data" --points 1024 --groups 64 --group-size 32
  --epochs "$epochs" --warmup 0 --schedule step --lr 5e-4 --batch 32 --augment scale-translate --seed 1 -v=false)
run() {
  name=$1; shift
  "$out/pointpeft" finetune "${common[@]}" --out "$out/$name" --overwrite "$@" 2> "$out/$name.log" | tee -a "$out/summary.txt"
}
run point-peft-fixed --method point-peft --mode fixed
run point-peft-faithful --method point-peft --mode faithful
run full --method full
run bitfit --method bitfit
run linear --method linear
